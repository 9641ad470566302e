#include "modelpool/histogram.h"

#include <gtest/gtest.h>

namespace modelpool {
namespace {

TEST(HistogramTest, BucketsCoverEveryValueInOrder) {
  for (std::uint64_t ns : {0ULL, 1ULL, 3ULL, 4ULL, 7ULL, 8ULL, 1000ULL, 123456789ULL, 1ULL << 40}) {
    const int b = LatencyHistogram::bucket_of(ns);
    EXPECT_LE(LatencyHistogram::bucket_lower_ns(b), ns);
    EXPECT_GT(LatencyHistogram::bucket_lower_ns(b + 1), ns);
  }
}

TEST(HistogramTest, PercentilesAreWithinABucketOfTheTruth) {
  LatencyHistogram h;
  for (int i = 1; i <= 1000; ++i) h.record(std::chrono::microseconds(i));
  HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count, 1000u);
  EXPECT_NEAR(s.p50_s, 500e-6, 500e-6 * 0.2);
  EXPECT_NEAR(s.p99_s, 990e-6, 990e-6 * 0.2);
  EXPECT_DOUBLE_EQ(s.max_s, 1000e-6);
  EXPECT_NEAR(s.mean_s(), 500.5e-6, 1e-9);
  EXPECT_EQ(s.count_at_most(1.0), 1000u);
}

TEST(HistogramTest, AnEmptyHistogramReportsZeros) {
  HistogramSnapshot s = LatencyHistogram().snapshot();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p99_s, 0);
  EXPECT_EQ(s.mean_s(), 0);
}

}  // namespace
}  // namespace modelpool
