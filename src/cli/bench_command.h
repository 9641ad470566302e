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
  std::string charts_dir;  // empty: no charts
};

struct LlamaBenchOptions {
  std::string model;
  std::string mode = "batched";  // batched | exclusive
  std::vector<std::size_t> concurrency{1, 4, 8, 16, 32};
  std::size_t prompt_tokens = 128;
  std::size_t max_tokens = 64;
  std::size_t instances = 0;        // exclusive: 0 = min(concurrency, cores)
  std::size_t slots = 0;            // batched: 0 = the concurrency
  std::size_t context_per_seq = 0;  // 0 = prompt + max tokens, rounded up to 256
  std::size_t threads = 0;          // 0 = the cores
  std::size_t prefill_chunk = 64;
  double prefill_stall = 2.0;  // 0: a fixed prefill_chunk
  bool separate_loads = false;
  std::size_t long_prompt_tokens = 0;  // > 0: the fair-prefill scenario
  std::string json_path;
  std::string charts_dir;  // empty: no charts
};

// A configured model (a speech engine) at several pool sizes.
struct ModelBenchOptions {
  std::string config_path;
  std::string model;       // its name in the config (may be empty when it holds one)
  std::string isolation;   // empty: as configured
  std::string audio_path;  // a transcribing model's input
  std::string text;        // a speaking model's input
  std::size_t callers = 30;
  std::vector<std::size_t> pool_sizes;
  std::string json_path;
  std::string charts_dir;  // empty: no charts
};

// Registers the subcommand; `run` is set to its action after parsing.
void add_bench_command(CLI::App& app, int* exit_code);

// Runs the sim pool-size benchmark, prints its table, writes JSON when asked.
// Returns the process exit code.
int run_sim_bench(const SimBenchOptions& options);

// Runs the pool-size benchmark on a configured model through Model::infer,
// prints its table, writes JSON when asked. Returns the process exit code.
int run_model_bench(const ModelBenchOptions& options);
// Runs the LLM benchmark (throughput, TTFT, TPOT, memory per concurrency),
// or the fair-prefill scenario when long_prompt_tokens > 0.
int run_llama_bench(const LlamaBenchOptions& options);

}  // namespace modelpool::cli
