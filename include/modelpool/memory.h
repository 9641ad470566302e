// Process memory as it should be counted when weights are shared: PSS
// (proportional set size) from /proc/<pid>/smaps_rollup. A page shared by k
// processes counts 1/k in each, so summing PSS over a server and its workers
// counts shared weights once, where RSS would count them once per process.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>

#include "modelpool/status.h"

namespace modelpool {

// PSS of process `pid` (0: this process) in bytes, or kNotFound / kInternal
// when /proc cannot be read.
Result<std::size_t> read_pss_bytes(pid_t pid = 0);

// Samples this process's PSS on a background thread every `period`, keeping
// the latest sample and the peak. The first sample is taken by the
// constructor; the destructor stops the thread at once (it does not wait out
// the period).
class PssSampler {
 public:
  explicit PssSampler(std::chrono::milliseconds period = std::chrono::milliseconds(10));
  ~PssSampler();
  PssSampler(const PssSampler&) = delete;
  PssSampler& operator=(const PssSampler&) = delete;

  // Largest PSS seen so far, in bytes (samples once more before answering).
  std::size_t peak_bytes();
  // The latest sample, in bytes (0 when /proc could not be read). Does not
  // sample: a load, cheap on any thread.
  std::size_t last_bytes() const { return last_.load(std::memory_order_relaxed); }

 private:
  void sample();

  std::atomic<std::size_t> peak_{0};
  std::atomic<std::size_t> last_{0};
  std::jthread thread_;
};

}  // namespace modelpool
