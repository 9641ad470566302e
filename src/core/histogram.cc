#include "modelpool/histogram.h"

#include <bit>

namespace modelpool {

int LatencyHistogram::bucket_of(std::uint64_t ns) {
  if (ns < 4) return static_cast<int>(ns);
  const int msb = 63 - std::countl_zero(ns);
  const int sub = static_cast<int>((ns >> (msb - 2)) & 3);
  return (msb - 1) * 4 + sub;
}

std::uint64_t LatencyHistogram::bucket_lower_ns(int bucket) {
  if (bucket < 4) return static_cast<std::uint64_t>(bucket);
  const int msb = bucket / 4 + 1;
  const std::uint64_t sub = static_cast<std::uint64_t>(bucket % 4);
  return (4 + sub) << (msb - 2);
}

void LatencyHistogram::record(std::chrono::nanoseconds d) {
  const std::uint64_t ns = d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
  buckets_[static_cast<std::size_t>(bucket_of(ns))].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  std::uint64_t prev = max_ns_.load(std::memory_order_relaxed);
  while (prev < ns && !max_ns_.compare_exchange_weak(prev, ns, std::memory_order_relaxed)) {
  }
}

HistogramSnapshot LatencyHistogram::snapshot() const {
  HistogramSnapshot s;
  s.bucket_counts.resize(kBuckets);
  s.bucket_upper_s.resize(kBuckets);
  std::uint64_t total = 0;
  for (int i = 0; i < kBuckets; ++i) {
    s.bucket_counts[static_cast<std::size_t>(i)] =
        buckets_[static_cast<std::size_t>(i)].load(std::memory_order_relaxed);
    total += s.bucket_counts[static_cast<std::size_t>(i)];
    const std::uint64_t upper = i + 1 < kBuckets ? bucket_lower_ns(i + 1) : UINT64_MAX;
    s.bucket_upper_s[static_cast<std::size_t>(i)] = static_cast<double>(upper) * 1e-9;
  }
  s.count = total;
  s.sum_s = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9;
  s.max_s = static_cast<double>(max_ns_.load(std::memory_order_relaxed)) * 1e-9;
  auto quantile = [&](double q) {
    if (total == 0) return 0.0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += s.bucket_counts[static_cast<std::size_t>(i)];
      if (seen >= rank) {
        // Midpoint of the bucket, never above the exact maximum.
        const double lo = static_cast<double>(bucket_lower_ns(i)) * 1e-9;
        const double hi = s.bucket_upper_s[static_cast<std::size_t>(i)];
        const double mid = lo + (hi - lo) / 2;
        return mid < s.max_s ? mid : s.max_s;
      }
    }
    return s.max_s;
  };
  s.p50_s = quantile(0.50);
  s.p95_s = quantile(0.95);
  s.p99_s = quantile(0.99);
  return s;
}

std::uint64_t HistogramSnapshot::count_at_most(double bound_s) const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < bucket_counts.size(); ++i) {
    if (bucket_upper_s[i] > bound_s) break;
    n += bucket_counts[i];
  }
  return n;
}

}  // namespace modelpool
