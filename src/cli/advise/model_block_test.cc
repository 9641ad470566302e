#include "cli/advise/model_block.h"

#include <gtest/gtest.h>

#include "cli/advise/recommend.h"
#include "cli/advise/verify.h"
#include "server/config.h"

namespace modelpool::cli::advise {
namespace {

server::ModelConfig parse_one(const std::string& toml) {
  Result<server::ServerConfig> parsed = server::parse_config(toml, "advice.toml");
  EXPECT_TRUE(parsed.ok()) << parsed.status().to_string() << "\n" << toml;
  return parsed.ok() ? parsed->models.at(0) : server::ModelConfig{};
}

// A measurement of a model on two cores: 1 s a request up to 2 at once,
// then the cores are shared; 1 GiB shared, 100 MiB per instance.
Measurement two_core_measurement() {
  Measurement m;
  m.cores = 2;
  Way w;
  w.mode = "exclusive";
  w.isolation = "thread";
  w.levels = {{1, 1, 1.0, 0, 1}, {2, 2, 1.0, 0, 1}, {3, 3, 1.5, 0, 1}, {4, 4, 2.0, 0, 1}};
  w.stopped = "throughput stopped growing";
  w.fixed_bytes = 1024.0 * 1024 * 1024;
  w.weights_bytes = w.fixed_bytes;
  w.unit_bytes = 100.0 * 1024 * 1024;
  m.ways.push_back(w);
  return m;
}

TEST(ModelBlockTest, TheRecommendationReadsBackAsTheSameSettings) {
  const server::ModelConfig original = parse_one(R"([[model]]
name = "phone-lines"
backend = "sim"
max_queue = 4
[model.options]
service_ms = 1000
service = "cpu"
share_weights = true
weights_mb = 16
)");
  const Measurement m = two_core_measurement();
  Goal goal;
  goal.concurrency = 30;
  goal.arrivals = Arrivals::burst(30);
  const Advice advice = recommend(m, goal);
  const server::ModelConfig rec = recommended_config(original, advice.chosen, goal);
  const std::string block = model_block(rec, (*default_catalog().find("sim"))->info());
  const server::ModelConfig back = parse_one(block);
  EXPECT_EQ(back.name, original.name);
  EXPECT_EQ(back.mode, "exclusive");
  EXPECT_EQ(back.min_instances, advice.chosen.size);
  EXPECT_EQ(back.max_instances, advice.chosen.size);
  EXPECT_EQ(back.max_queue, 30u);  // every caller may wait
  EXPECT_EQ(back.options, original.options);
  EXPECT_EQ(back.isolation, "thread");
}

TEST(ModelBlockTest, ProcessIsolationKeepsItsSupervisionSettings) {
  const server::ModelConfig original = parse_one(R"([[model]]
name = "speech"
backend = "sim"
isolation = "process"
[model.process]
heartbeat_ms = 500
arena_mb = 64
)");
  Way w;
  w.mode = "exclusive";
  w.isolation = "process";
  Option chosen;
  chosen.way = &w;
  chosen.size = 3;
  Goal goal;
  goal.concurrency = 8;
  const server::ModelConfig back = parse_one(model_block(recommended_config(original, chosen, goal),
                                                         (*default_catalog().find("sim"))->info()));
  EXPECT_EQ(back.isolation, "process");
  EXPECT_EQ(back.max_instances, 3u);
  EXPECT_EQ(back.heartbeat_ms, 500);
  EXPECT_EQ(back.arena_mb, 64u);
}

TEST(RecommendTest, TwoCoresNeedTwoInstancesNotFive) {
  const Measurement m = two_core_measurement();
  Goal goal;
  goal.concurrency = 30;
  goal.arrivals = Arrivals::burst(30);
  const Advice a = recommend(m, goal);
  EXPECT_EQ(a.chosen.size, 2u);
  EXPECT_NEAR(a.chosen.predicted.makespan_s, 15.0, 1e-6);
  EXPECT_NEAR(a.chosen.memory_bytes, (1024.0 + 200) * 1024 * 1024, 1);
  EXPECT_EQ(a.rule_of_thumb.size, 5u);
  ASSERT_FALSE(a.reasons.empty());
  EXPECT_NE(a.reasons[0].find("this machine has 2 cores"), std::string::npos) << a.reasons[0];
}

TEST(RecommendTest, AGoalPicksTheCheapestSizeThatMeetsIt) {
  // Perfectly parallel: p99 = ceil(30 / n) s. A goal of 3 s needs 10.
  Measurement m;
  Way w;
  w.mode = "exclusive";
  w.isolation = "thread";
  w.levels = {{1, 1, 1.0, 0, 1}, {30, 30, 1.0, 0, 1}};
  w.stopped = "reached the concurrency";
  w.fixed_bytes = 1 << 30;
  w.unit_bytes = 100 << 20;
  m.ways.push_back(w);
  Goal goal;
  goal.concurrency = 30;
  goal.arrivals = Arrivals::burst(30);
  goal.slo_p99_s = 3.0;
  EXPECT_EQ(recommend(m, goal).chosen.size, 10u);
  // A budget that allows 5 instances: the goal cannot be met; the best
  // within the budget is chosen and the reasons say so.
  goal.memory_budget_bytes = (1024.0 + 500) * 1024 * 1024;
  const Advice a = recommend(m, goal);
  EXPECT_EQ(a.chosen.size, 5u);
  EXPECT_FALSE(a.chosen.meets_slo);
  bool told = false;
  for (const std::string& r : a.reasons) told |= r.find("meets the p99 goal") != std::string::npos;
  EXPECT_TRUE(told);
}

}  // namespace
}  // namespace modelpool::cli::advise

namespace modelpool::cli::advise {
namespace {

TEST(VerifyCompareTest, AMissIsReportedNotHidden) {
  Way w;
  Option predicted;
  predicted.way = &w;
  predicted.predicted.throughput = 10;
  predicted.predicted.p50_s = 1;
  predicted.predicted.p99_s = 2;
  predicted.memory_bytes = 100.0 * 1024 * 1024;
  Verified measured;
  measured.throughput = 9.5;  // -5%: within
  measured.p50_s = 3;         // shown, not judged
  measured.p99_s = 2.5;       // +25%: a miss
  measured.memory_bytes = 103.0 * 1024 * 1024;
  const std::vector<Comparison> rows = compare(predicted, measured, 0.10);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0].within);
  EXPECT_FALSE(rows[1].judged);
  EXPECT_EQ(rows[2].metric, "p99");
  EXPECT_FALSE(rows[2].within);
  EXPECT_NEAR(rows[2].error, 0.25, 1e-9);
  EXPECT_TRUE(rows[3].within);
  // Memory within PSS's resolution is within whatever the ratio.
  predicted.memory_bytes = 1.0 * 1024 * 1024;
  measured.memory_bytes = 4.0 * 1024 * 1024;
  EXPECT_TRUE(compare(predicted, measured, 0.10)[3].within);
  measured.memory_bytes = 6.0 * 1024 * 1024;
  EXPECT_FALSE(compare(predicted, measured, 0.10)[3].within);
}

}  // namespace
}  // namespace modelpool::cli::advise
