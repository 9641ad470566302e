// LatencyHistogram: a lock-free histogram of durations.
//
// record() is wait-free (a few relaxed atomic adds), so it may be called on
// the data path and under the pool's lock. Buckets are log-linear: four per
// power of two of nanoseconds, so a reported percentile is within ~19% of
// the true value; count, sum and max are exact.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace modelpool {

struct HistogramSnapshot {
  std::uint64_t count = 0;
  double sum_s = 0;
  double max_s = 0;
  double p50_s = 0;
  double p95_s = 0;
  double p99_s = 0;
  // Counts per bucket and each bucket's upper bound in seconds, for exporters
  // that need cumulative buckets (Prometheus).
  std::vector<std::uint64_t> bucket_counts;
  std::vector<double> bucket_upper_s;

  double mean_s() const { return count ? sum_s / static_cast<double>(count) : 0; }
  // Number of samples <= `bound_s` (bucket resolution).
  std::uint64_t count_at_most(double bound_s) const;
};

class LatencyHistogram {
 public:
  static constexpr int kBuckets = 256;

  void record(std::chrono::nanoseconds d);
  HistogramSnapshot snapshot() const;

  // Bucket math, public for tests.
  static int bucket_of(std::uint64_t ns);
  static std::uint64_t bucket_lower_ns(int bucket);

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> max_ns_{0};
};

}  // namespace modelpool
