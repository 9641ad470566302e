// The measuring half of `modelpool advise`: the model on this machine, in
// every way it can be served (exclusive instances, batched slots, thread or
// process isolation), at a growing number of requests at once, within a
// time limit.
//
// For each way, level k opens the model with k instances (or k slots),
// warms it, and runs k callers in a closed loop: the mean service time s(k)
// is one point of the machine's scaling curve (queue_model.h), the peak PSS
// of the process and its workers one point of the memory line. Levels grow
// (1, 2, 3, 4, 6, 8, 12, ...) until throughput has stopped growing for two
// levels, the next level would not fit the memory budget or the machine,
// the concurrency is reached, or the time limit would be passed; the model
// extrapolates past the last level and the report says where measuring
// stopped and why.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cli/advise/queue_model.h"
#include "cli/advise/workload.h"
#include "server/config.h"

namespace modelpool::cli::advise {

struct MeasureOptions {
  std::size_t max_level = 1;        // the most requests at once worth measuring
  double memory_budget_bytes = 0;   // 0: none (the machine's available memory still bounds)
  double time_limit_s = 300;        // for all of measuring
  std::size_t requests_per_caller = 4;
  // A level runs at least this long (more requests per caller for quick
  // models), so its mean is steady.
  double min_level_s = 1.5;
  // Threads that take turns at a level's requests (at least k): the
  // callers a server would have, each on its own handler thread.
  std::size_t threads = 0;
  WorkloadOptions workload;
  // Only these ways (empty: every way the backend and the executors offer).
  std::string only_mode;       // "exclusive" or "batched"
  std::string only_isolation;  // "thread" or "process"
};

// One level: k requests at once on k instances or slots.
struct Level {
  std::size_t k = 0;
  std::size_t live = 0;       // instances (or slots) that existed while it ran
  double service_s = 0;       // mean service time while k ran
  double pss_bytes = 0;       // peak PSS, process and workers, less the base
  double wall_s = 0;          // this level's time, loading included
};

// One way of serving the model, measured.
struct Way {
  std::string mode;       // "exclusive" or "batched"
  std::string isolation;  // "thread" or "process"
  std::string refused;    // why this way cannot serve the model; empty when measured
  std::vector<Level> levels;
  double load_s = 0;          // the first open: weights and one instance, warm
  double instance_s = 0;      // one more instance: creation and warm-up (mean)
  double weights_bytes = 0;   // as the model reports them
  // Memory in bytes = fixed_bytes + unit_bytes x instances (least squares
  // over the levels; one level: the model's own per-instance figure).
  double fixed_bytes = 0, unit_bytes = 0;
  std::string stopped;  // why measuring ended at the last level
  std::string workload;  // what a request was (Workload::describe)
  bool generates = false;
  // Service times relative to their mean at k = 1 (the spread of the work).
  std::vector<double> relative_work;
  // Process isolation measured at fewer levels: its measured points, then
  // the thread curve times the measured cost of one request alone in a
  // worker (set by measure()).
  std::vector<std::pair<double, double>> scaled_points;
  double isolation_ratio = 0;  // one request alone: in a worker / in a thread

  ServiceCurve curve() const;
  double memory_bytes(std::size_t units) const { return fixed_bytes + unit_bytes * static_cast<double>(units); }
  bool usable() const { return refused.empty() && !levels.empty(); }
  std::string label() const;  // "exclusive", "batched", "exclusive, process"
};

struct Measurement {
  std::vector<Way> ways;
  std::size_t cores = 1;
  double base_pss_bytes = 0;  // this process before any model was opened
  double wall_s = 0;
  std::string workload;       // what a request was
  bool generates = false;     // a text model: its compute threads are a setting
  std::size_t threads = 0;    // the compute threads measured with (0: not a setting)
};

// Measures `config` (its own serving settings are replaced level by level).
// Progress goes to stderr. kInvalidArgument when the model cannot be served
// at all (every way refused), naming each way's reason.
Result<Measurement> measure(const server::ModelConfig& config, const MeasureOptions& options);

}  // namespace modelpool::cli::advise
