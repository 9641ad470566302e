// StepCostModel on steps made up from a known cost.
#include "modelpool/step_cost.h"

#include <gtest/gtest.h>

namespace modelpool {
namespace {

// The engine of these tests: a = 10 ms, b = 0.5 ms per decoding unit,
// mixing c = 15 ms, e = 1 ms per prompt unit.
double cost(std::size_t d, std::size_t p) {
  return 0.010 + 0.0005 * static_cast<double>(d) + (p > 0 ? 0.015 + 0.001 * static_cast<double>(p) : 0);
}

TEST(StepCostModelTest, KnowsNothingUntilBothKindsOfStepsHaveRun) {
  StepCostModel m;
  EXPECT_FALSE(m.prompt_budget(16, 2.5).has_value());
  for (int i = 0; i < 10; ++i) m.record(16, 0, cost(16, 0));
  EXPECT_FALSE(m.prompt_budget(16, 2.5).has_value());  // no step with prompt units yet
  ASSERT_TRUE(m.decode_step_s(16).has_value());
  EXPECT_NEAR(*m.decode_step_s(16), cost(16, 0), 1e-9);
  // Steps of prompts alone stall no one: they teach the model nothing.
  for (int i = 0; i < 10; ++i) m.record(0, 512, 0.5);
  EXPECT_FALSE(m.prompt_budget(16, 2.5).has_value());
}

TEST(StepCostModelTest, FitsTheTermsAndBudgetsThePromptUnitsWithinTheStall) {
  StepCostModel m;
  for (std::size_t i = 0; i < 60; ++i) {
    const std::size_t d = 8 + i % 9;                // 8 .. 16 decoding
    m.record(d, 0, cost(d, 0));
    const std::size_t p = 16 + (i * 7) % 64;        // 16 .. 79 prompt units
    m.record(d, p, cost(d, p));
  }
  EXPECT_NEAR(m.fixed_s(), 0.010, 1e-6);
  EXPECT_NEAR(m.per_decode_s(), 0.0005, 1e-7);
  // The first mixed steps were measured against a decode fit still settling.
  EXPECT_NEAR(m.mix_s(), 0.015, 2e-4);
  EXPECT_NEAR(m.per_prompt_s(), 0.001, 2e-5);
  // 16 decoding: 18 ms alone; at most 2.5x = 45 ms: 45 - 18 - 15 = 12 ms of prompt units.
  ASSERT_TRUE(m.prompt_budget(16, 2.5).has_value());
  EXPECT_NEAR(static_cast<double>(*m.prompt_budget(16, 2.5)), 12.0, 1.0);
  // A step of that many stays within the stall; one more unit would not fit 3x.
  EXPECT_LE(cost(16, *m.prompt_budget(16, 3.0)), 3.0 * cost(16, 0) + 1e-9);
  EXPECT_GT(cost(16, *m.prompt_budget(16, 3.0) + 2), 3.0 * cost(16, 0));
}

TEST(StepCostModelTest, FromOneChunkSizeItSettlesOnABudgetWithinTheStall) {
  // Only 64-unit chunks so far: the fixed and per-unit costs cannot be told
  // apart. The chunks it then proposes are measured too, and it settles.
  StepCostModel m;
  for (int i = 0; i < 10; ++i) {
    m.record(16, 0, cost(16, 0));
    m.record(16, 64, cost(16, 64));
  }
  std::size_t budget = 0;
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(m.prompt_budget(16, 2.5).has_value());
    budget = *m.prompt_budget(16, 2.5);
    m.record(16, 0, cost(16, 0));
    m.record(16, budget, cost(16, budget));
  }
  EXPECT_GT(budget, 0u);
  EXPECT_LE(cost(16, budget), 2.5 * cost(16, 0) + 0.001);
  EXPECT_GE(budget, 9u);  // the true answer is 12
}

TEST(StepCostModelTest, AMixThatAloneExceedsTheStallStillLetsOneUnitThrough) {
  StepCostModel m;
  for (std::size_t i = 0; i < 20; ++i) {
    m.record(4, 0, cost(4, 0));
    m.record(4, 8 + i, cost(4, 8 + i));
  }
  // 4 decoding: 12 ms alone; 1.5x leaves 6 ms, less than the 15 ms the mix costs.
  EXPECT_EQ(m.prompt_budget(4, 1.5), std::optional<std::size_t>(1));
}

TEST(StepCostModelTest, FollowsAnEngineThatSlowsDown) {
  StepCostModel m;
  for (std::size_t i = 0; i < 60; ++i) {
    m.record(16, 0, cost(16, 0));
    m.record(16, 16 + i % 48, cost(16, 16 + i % 48));
  }
  const double before = *m.decode_step_s(16);
  for (std::size_t i = 0; i < 200; ++i) {
    m.record(16, 0, 2 * cost(16, 0));
    m.record(16, 16 + i % 48, 2 * cost(16, 16 + i % 48));
  }
  EXPECT_NEAR(*m.decode_step_s(16), 2 * before, 0.05 * before);
}

}  // namespace
}  // namespace modelpool
