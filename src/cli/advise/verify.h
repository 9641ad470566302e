// `modelpool advise --verify`: runs the recommended configuration under the
// stated load and compares what it measured with what was predicted.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/advise/recommend.h"
#include "cli/advise/workload.h"
#include "server/config.h"

namespace modelpool::cli::advise {

struct Verified {
  std::size_t runs = 0;       // bursts run (averaged), or 1 for Poisson
  std::size_t requests = 0;
  double throughput = 0, p50_s = 0, p99_s = 0;
  double memory_bytes = 0;    // peak PSS of the process and its workers, less the base
  std::size_t errors = 0;
  std::string first_error;
};

// One compared figure.
struct Comparison {
  std::string metric;      // "throughput", "p50", "p99", "memory"
  double predicted = 0, measured = 0;
  double error = 0;        // measured / predicted - 1
  bool judged = true;      // false: shown, not held to the goal (p50)
  bool within = true;      // |error| <= tolerance
};

// `recommended` as a [[model]] config, loaded fresh; bursts are repeated
// `runs` times; Poisson runs `requests` arrivals.
Result<Verified> verify(const server::ModelConfig& recommended, const Goal& goal, const WorkloadOptions& workload,
                        double base_pss_bytes, std::size_t runs, std::size_t requests);

// Predicted against measured, with the goal's tolerance (0.10); memory is
// also within when it is off by 4 MiB or less (the resolution of PSS).
std::vector<Comparison> compare(const Option& predicted, const Verified& measured, double tolerance);

}  // namespace modelpool::cli::advise

namespace modelpool::cli::advise {

// verify() in a fresh `modelpool advise-verify` process, as a server would
// start: the measuring levels before it leave this process's heap larger
// and fragmented, which would count against the recommendation's memory.
// `block` is the recommended [[model]] table (model_block()); its memory
// is the child's PSS (and its workers') above the child's own before
// loading. Progress goes to stderr.
Result<Verified> verify_in_fresh_process(const std::string& block, const std::string& model, const Goal& goal,
                                         const WorkloadOptions& workload, std::size_t runs, std::size_t requests);

// The hidden `advise-verify` command that verify_in_fresh_process() runs.
void add_advise_verify_command(CLI::App& app, int* exit_code);

}  // namespace modelpool::cli::advise
