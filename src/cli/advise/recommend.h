// The deciding half of `modelpool advise`: every measured way of serving
// the model at every pool size, predicted by the queueing model
// (queue_model.h) from the measured curves (measure.h), and the choice with
// its reasons in words.
//
// The rule: sizes whose predicted memory exceeds the budget are out, and
// under Poisson arrivals so are sizes that cannot keep up with the rate.
// With a p99 goal, the cheapest size (memory, then instances) that meets it
// wins; without one, the smallest size whose p99 is within 5% of the best
// reachable (past it, more instances buy nothing). Between ways, the one
// that meets the goal with the least memory, else the lowest p99; process
// isolation only when threads are refused or it predicts clearly better
// (its cost is told either way).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cli/advise/measure.h"
#include "cli/advise/queue_model.h"

namespace modelpool::cli::advise {

struct Goal {
  Arrivals arrivals;
  std::size_t concurrency = 1;   // callers at once (burst) or the most expected
  double slo_p99_s = 0;          // 0: none
  double memory_budget_bytes = 0;  // 0: none
};

// One way at one size, predicted.
struct Option {
  const Way* way = nullptr;
  std::size_t size = 0;  // instances (exclusive) or slots (batched)
  Prediction predicted;
  double memory_bytes = 0;  // the model's, base of the process excluded
  bool within_budget = true;
  bool meets_slo = true;
};

struct Advice {
  Option chosen;
  std::vector<Option> options;  // every way and size considered
  std::vector<std::string> reasons;
  Option rule_of_thumb;  // ceil(concurrency / 7) instances, the chosen way
};

// REQUIRES: at least one usable way in `m`.
Advice recommend(const Measurement& m, const Goal& goal);

// "1.2 GiB", "350 MiB".
std::string format_bytes(double bytes);

}  // namespace modelpool::cli::advise
