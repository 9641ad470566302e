#include "cli/bench_command.h"
#include "cli/report.h"

#include <cstdio>
#include <fstream>
#include <memory>

namespace modelpool::cli {

void add_bench_command(CLI::App& app, int* exit_code) {
  // The parsed values live as long as the App: CLI11 keeps references to
  // them, and the callback holds this struct.
  struct Args {
    SimBenchOptions options;
    LlamaBenchOptions llama;
    std::string backend = "sim";
    std::string share = "true";
    ModelBenchOptions configured;
  };
  auto args = std::make_shared<Args>();
  SimBenchOptions* options = &args->options;
  std::string* backend = &args->backend;
  std::string* share = &args->share;
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Measure makespan, waits, latency and memory of a pool at several sizes, "
      "with all callers arriving at once, beside the queueing theory");
  LlamaBenchOptions* llama = &args->llama;
  cmd->add_option("--backend", *backend, "Backend to measure: sim (pool sizes) or llama (LLM)")
      ->check(CLI::IsMember({"sim", "llama"}))
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
  cmd->add_option("--charts", options->charts_dir,
                  "Also draw the results as SVG (and PNG) charts in DIR, created if needed; "
                  "needs gnuplot")
      ->check([](const std::string& dir) { return check_chart_dir(dir); });

  auto* g = "llama backend";
  cmd->add_option("--model", llama->model, "GGUF model file (llama)")->group(g)->check(CLI::ExistingFile);
  cmd->add_option("--mode", llama->mode, "batched: one context, continuous batching; "
                  "exclusive: a pool of contexts")
      ->group(g)->check(CLI::IsMember({"batched", "exclusive"}))->capture_default_str();
  cmd->add_option("--concurrency", llama->concurrency, "Comma-separated concurrent requests")
      ->group(g)->delimiter(',')->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--prompt-tokens", llama->prompt_tokens, "Prompt length in tokens")
      ->group(g)->check(CLI::Range(2, 1 << 20))->capture_default_str();
  cmd->add_option("--max-tokens", llama->max_tokens, "Tokens generated per request")
      ->group(g)->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd->add_option("--instances", llama->instances,
                  "exclusive: contexts in the pool (default: min(concurrency, cores))")
      ->group(g)->check(CLI::Range(1, 4096));
  cmd->add_option("--slots", llama->slots, "batched: sequences per context (default: concurrency)")
      ->group(g)->check(CLI::Range(1, 4096));
  cmd->add_option("--context-per-seq", llama->context_per_seq,
                  "KV tokens per sequence (default: prompt + max tokens, rounded up to 256)")
      ->group(g)->check(CLI::Range(16, 1 << 22));
  cmd->add_option("--threads", llama->threads, "Compute threads for the model (default: cores)")
      ->group(g)->check(CLI::Range(1, 1024));
  cmd->add_option("--prefill-chunk", llama->prefill_chunk,
                  "batched: prompt tokens per step while others decode, until the cost model "
                  "has measured enough steps (always, with --prefill-stall 0)")
      ->group(g)->check(CLI::Range(1, 1 << 16))->capture_default_str();
  cmd->add_option("--prefill-stall", llama->prefill_stall,
                  "batched: while others decode, a step with prompt tokens may take this many "
                  "times a decoding step (cost model); 0: a fixed --prefill-chunk")
      ->group(g)->check(CLI::Range(0.0, 100.0))->capture_default_str();
  cmd->add_flag("--separate-loads", llama->separate_loads,
                "exclusive: each instance reads its own copy of the model (the naive pool)")
      ->group(g);
  cmd->add_option("--long-prompt-tokens", llama->long_prompt_tokens,
                  "Fair-prefill scenario: once every stream decodes, a prompt this long arrives; "
                  "reports the streams' largest gap between tokens against their median")
      ->group(g)->check(CLI::Range(2, 1 << 20));

  ModelBenchOptions* configured = &args->configured;
  auto* c = "a configured model (speech engines; instead of --backend)";
  cmd->add_option("--config", configured->config_path, "Model repository (TOML) holding the model")
      ->group(c)->check(CLI::ExistingFile);
  cmd->add_option("--model-name", configured->model, "The model's name in --config")->group(c);
  cmd->add_option("--isolation", configured->isolation, "thread or process (default: as configured)")
      ->group(c)->check(CLI::IsMember({"thread", "process"}));
  cmd->add_option("--audio", configured->audio_path, "Audio file each caller transcribes")
      ->group(c)->check(CLI::ExistingFile);
  cmd->add_option("--text", configured->text, "Text each caller has spoken")->group(c);

  cmd->callback([args, options, llama, share, backend, configured, exit_code] {
    if (!configured->config_path.empty()) {
      configured->callers = options->callers;
      configured->pool_sizes = options->pool_sizes;
      configured->json_path = options->json_path;
      configured->charts_dir = options->charts_dir;
      *exit_code = run_model_bench(*configured);
      return;
    }
    if (*backend == "llama") {
      if (llama->model.empty()) throw CLI::RequiredError("--model (with --backend llama)");
      llama->json_path = options->json_path;
      llama->charts_dir = options->charts_dir;
      *exit_code = run_llama_bench(*llama);
      return;
    }
    options->share_weights.clear();
    if (*share != "false") options->share_weights.push_back(true);
    if (*share != "true") options->share_weights.push_back(false);
    *exit_code = run_sim_bench(*options);
  });
}

}  // namespace modelpool::cli
