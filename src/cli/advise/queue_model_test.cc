#include "cli/advise/queue_model.h"

#include <gtest/gtest.h>

#include <vector>

namespace modelpool::cli::advise {
namespace {

// Perfectly parallel hardware: a request takes 1 s however many run.
const ServiceCurve kParallel({{1, 1.0}, {1000, 1.0}});
// Two cores, CPU-bound: 1 s for up to 2 at once, then the two cores are
// shared (the curve's last point holds its throughput, 2 per second).
const ServiceCurve kTwoCores({{1, 1.0}, {2, 1.0}});

TEST(ServiceCurveTest, InterpolatesAndHoldsTheLastThroughput) {
  const ServiceCurve c({{4, 4.0}, {1, 1.0}, {2, 2.0}});  // unsorted on purpose
  EXPECT_DOUBLE_EQ(c.seconds(0.5), 1.0);
  EXPECT_DOUBLE_EQ(c.seconds(3), 3.0);
  EXPECT_DOUBLE_EQ(c.seconds(8), 8.0);  // 1 request/s held past k = 4
  EXPECT_DOUBLE_EQ(c.throughput(8), 1.0);
  EXPECT_DOUBLE_EQ(ServiceCurve().seconds(3), 0.0);
}

TEST(QueueModelTest, BurstOnParallelHardwareIsRoundsOfTheServiceTime) {
  // 30 callers: ceil(30 / pool) rounds of 1 s.
  EXPECT_NEAR(predict(kParallel, 30, Arrivals::burst(30), {}, 1).makespan_s, 1.0, 1e-9);
  EXPECT_NEAR(predict(kParallel, 8, Arrivals::burst(30), {}, 1).makespan_s, 4.0, 1e-9);
  const Prediction one = predict(kParallel, 1, Arrivals::burst(30), {}, 1);
  EXPECT_NEAR(one.makespan_s, 30.0, 1e-9);
  EXPECT_NEAR(one.p50_s, 15.0, 1e-9);  // the 15th of 30 answers
  EXPECT_NEAR(one.p99_s, 30.0, 1e-9);
  EXPECT_NEAR(one.throughput, 1.0, 1e-9);
}

TEST(QueueModelTest, BurstOnTwoCoresGainsNothingPastTwoInstances) {
  const Prediction two = predict(kTwoCores, 2, Arrivals::burst(30), {}, 1);
  const Prediction thirty = predict(kTwoCores, 30, Arrivals::burst(30), {}, 1);
  EXPECT_NEAR(two.makespan_s, 15.0, 1e-9);
  EXPECT_NEAR(thirty.makespan_s, 15.0, 1e-9);
  // Same makespan, but 30 instances make everyone wait for the end.
  EXPECT_NEAR(two.p50_s, 8.0, 1e-9);
  EXPECT_NEAR(thirty.p50_s, 15.0, 1e-9);
}

TEST(QueueModelTest, BurstsLastPartialRoundRunsFaster) {
  // 3 callers, 2 instances, 1 core (s(2) = 2 s): two share the core, then
  // the third runs alone at s(1).
  const ServiceCurve one_core({{1, 1.0}, {2, 2.0}});
  const Prediction p = predict(one_core, 2, Arrivals::burst(3), {}, 1);
  EXPECT_NEAR(p.makespan_s, 3.0, 1e-9);
}

TEST(QueueModelTest, PoissonMatchesTheMD1Formula) {
  // M/D/1 at utilisation 0.5: mean wait = rho / (2 mu (1 - rho)) = 0.5 s.
  const Prediction p = predict(kParallel, 1, Arrivals::poisson(0.5, 200000), {}, 7);
  EXPECT_TRUE(p.stable);
  EXPECT_NEAR(p.mean_s, 1.5, 0.05);
  EXPECT_DOUBLE_EQ(p.throughput, 0.5);
}

TEST(QueueModelTest, PoissonOverCapacityIsUnstable) {
  const Prediction p = predict(kTwoCores, 4, Arrivals::poisson(2.5, 5000), {}, 7);
  EXPECT_FALSE(p.stable);
  EXPECT_NEAR(p.throughput, 2.0, 1e-9);
  EXPECT_TRUE(predict(kTwoCores, 4, Arrivals::poisson(1.5, 5000), {}, 7).stable);
}

TEST(QueueModelTest, SpreadOfWorkWidensTheTail) {
  const std::vector<double> spread = {0.5, 1.5};
  const Prediction fixed = predict(kParallel, 1, Arrivals::poisson(0.5, 50000), {}, 3);
  const Prediction varied = predict(kParallel, 1, Arrivals::poisson(0.5, 50000), spread, 3);
  EXPECT_GT(varied.p99_s, fixed.p99_s);
  // Repeatable with the same seed.
  EXPECT_DOUBLE_EQ(predict(kParallel, 2, Arrivals::burst(9), spread, 5).p99_s,
                   predict(kParallel, 2, Arrivals::burst(9), spread, 5).p99_s);
}

}  // namespace
}  // namespace modelpool::cli::advise
