// The memory a model costs the machine while it runs: the PSS of this
// process plus that of the model's worker processes (isolation = "process"),
// sampled on a background thread; the peak is kept.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>

#include "modelpool/model.h"

namespace modelpool::cli {

class TreePss {
 public:
  // Starts sampling at once, then every `period`. REQUIRES: `model`
  // outlives this object.
  explicit TreePss(const Model& model, std::chrono::milliseconds period = std::chrono::milliseconds(20));
  // Samples once more, stops sampling and returns the peak, bytes. Call it
  // before `model` shuts down; later calls return the same peak.
  std::size_t peak_bytes();
  double peak_mb() { return static_cast<double>(peak_bytes()) / (1024.0 * 1024.0); }

  // This process and the workers `model` reports now, bytes (0 parts when
  // unreadable).
  static std::size_t now(const Model& model);

 private:
  void sample();
  const Model& model_;
  const std::chrono::milliseconds period_;
  std::atomic<std::size_t> peak_{0};
  std::jthread thread_;  // last: starts after the members it reads
};

}  // namespace modelpool::cli
