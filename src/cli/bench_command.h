// `modelpool bench`: measures how large a pool should be.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace modelpool::cli {

struct SimBenchOptions {
  std::size_t callers = 30;
  std::vector<std::size_t> pool_sizes{1, 2, 4, 8, 30};
  double service_ms = 100;
  std::string service = "sleep";  // sleep | cpu
  std::size_t weights_mb = 256;
  std::size_t instance_mb = 16;
  std::vector<bool> share_weights{true};
  std::string json_path;
};

// Registers the subcommand; `run` is set to its action after parsing.
void add_bench_command(CLI::App& app, int* exit_code);

// Runs the sim pool-size benchmark, prints its table, writes JSON when asked.
// Returns the process exit code.
int run_sim_bench(const SimBenchOptions& options);

}  // namespace modelpool::cli
