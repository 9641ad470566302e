#include "cli/bench_command.h"

#include <cstdio>
#include <fstream>
#include <memory>

namespace modelpool::cli {

namespace {

// Fails parsing with a message naming the option when `path` cannot be
// written, so a long benchmark does not end in a lost result.
std::string check_writable(const std::string& path) {
  std::ofstream probe(path, std::ios::app);
  if (!probe) return "cannot write '" + path + "'";
  return "";
}

}  // namespace

void add_bench_command(CLI::App& app, int* exit_code) {
  // The parsed values live as long as the App: CLI11 keeps references to
  // them, and the callback holds this struct.
  struct Args {
    SimBenchOptions options;
    std::string backend = "sim";
    std::string share = "true";
  };
  auto args = std::make_shared<Args>();
  SimBenchOptions* options = &args->options;
  std::string* backend = &args->backend;
  std::string* share = &args->share;
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Measure makespan, waits, latency and memory of a pool at several sizes, "
      "with all callers arriving at once, beside the queueing theory");
  cmd->add_option("--backend", *backend, "Backend to measure")
      ->check(CLI::IsMember({"sim"}))
      ->capture_default_str();
  cmd->add_option("--callers", options->callers, "Concurrent callers, each makes one request")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--pool-sizes", options->pool_sizes, "Comma-separated pool sizes to measure")
      ->delimiter(',')
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--service-ms", options->service_ms, "Service time of one request, ms")
      ->check(CLI::Range(0.0, 3600000.0))
      ->capture_default_str();
  cmd->add_option("--service", options->service,
                  "sleep: the request waits (I/O or accelerator bound); cpu: it burns CPU")
      ->check(CLI::IsMember({"sleep", "cpu"}))
      ->capture_default_str();
  cmd->add_option("--weights-mb", options->weights_mb, "Model weights, MiB")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--instance-mb", options->instance_mb, "Per-instance state, MiB")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--share-weights", *share,
                  "true: instances share one copy of the weights; false: one copy each "
                  "(the naive pool); both: measure both")
      ->check(CLI::IsMember({"true", "false", "both"}))
      ->capture_default_str();
  cmd->add_option("--json", options->json_path, "Also write the results as JSON to FILE")
      ->check([](const std::string& path) { return check_writable(path); });
  cmd->callback([args, options, share, exit_code] {
    options->share_weights.clear();
    if (*share != "false") options->share_weights.push_back(true);
    if (*share != "true") options->share_weights.push_back(false);
    *exit_code = run_sim_bench(*options);
  });
}

}  // namespace modelpool::cli
