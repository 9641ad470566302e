#include "server/model_metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace modelpool::server {
namespace {

TEST(ModelMetricsTest, OutcomesAreSortedByOutcomeThenStatus) {
  ModelMetrics m;
  m.count(Outcome::kError, 404);
  m.count(Outcome::kOk, 200);
  m.count(Outcome::kRejected, 503);
  m.count(Outcome::kRejected, 429);
  m.count(Outcome::kOk, 200);
  m.count(Outcome::kError, 400);
  const std::vector<OutcomeCount> got = m.outcomes();
  ASSERT_EQ(got.size(), 5u);
  const std::pair<Outcome, int> want[] = {{Outcome::kOk, 200},
                                          {Outcome::kRejected, 429},
                                          {Outcome::kRejected, 503},
                                          {Outcome::kError, 400},
                                          {Outcome::kError, 404}};
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].outcome, want[i].first) << i;
    EXPECT_EQ(got[i].code, want[i].second) << i;
  }
  EXPECT_EQ(got[0].count, 2u);
}

TEST(ModelMetricsTest, AStatusOutsideTheCountedOnesIsCountedAs500) {
  ModelMetrics m;
  m.count(Outcome::kError, 418);
  const std::vector<OutcomeCount> got = m.outcomes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code, 500);
}

TEST(ModelMetricsTest, EveryOutcomeOfAStatusIsCountable) {
  const Status statuses[] = {Status(), cancelled_error("x"), timeout_error("x"), queue_full_error("x"),
                             shutting_down_error("x"), invalid_argument_error("x"), not_found_error("x"),
                             model_failed_error("x"), internal_error("x")};
  for (const Status& s : statuses) {
    for (StopReason r : {StopReason::kNone, StopReason::kClientGone, StopReason::kShutdown,
                         StopReason::kSlowClient}) {
      const int code = outcome_of(s, r).second;
      EXPECT_NE(std::find(kCountedCodes.begin(), kCountedCodes.end(), code), kCountedCodes.end()) << code;
    }
  }
  EXPECT_EQ(outcome_of(Status(), StopReason::kSlowClient), std::make_pair(Outcome::kCancelled, 499));
}

TEST(ModelMetricsTest, ConcurrentCountsAreAllKept) {
  ModelMetrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m.count(Outcome::kOk, 200);
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(m.outcomes().size(), 1u);
  EXPECT_EQ(m.outcomes()[0].count, 40000u);
}

TEST(ModelMetricsTest, RecentErrorsKeepTheLastOnesOldestFirst) {
  ModelMetrics m;
  EXPECT_TRUE(m.recent_errors().empty());
  const auto before = std::chrono::system_clock::now();
  const std::size_t n = ModelMetrics::kRecentErrors + 5;
  for (std::size_t i = 0; i < n; ++i)
    m.record_error(500 + static_cast<int>(i % 5), "error " + std::to_string(i));
  const std::vector<RecentError> errors = m.recent_errors();
  ASSERT_EQ(errors.size(), ModelMetrics::kRecentErrors);
  EXPECT_EQ(errors.front().message, "error 5");
  EXPECT_EQ(errors.back().message, "error " + std::to_string(n - 1));
  EXPECT_EQ(errors.back().code, 500 + static_cast<int>((n - 1) % 5));
  EXPECT_GE(errors.front().time, before);
  EXPECT_LE(errors.front().time, errors.back().time);
}

TEST(ModelMetricsTest, ALongErrorMessageIsCutAtACharacterBoundary) {
  ModelMetrics m;
  // "é" is two bytes: the cut at kErrorMessageBytes falls inside one.
  std::string message = "x";
  while (message.size() < 2 * ModelMetrics::kErrorMessageBytes) message += "\xc3\xa9";
  m.record_error(400, message);
  const std::string kept = m.recent_errors().at(0).message;
  EXPECT_LE(kept.size(), ModelMetrics::kErrorMessageBytes + 3);
  ASSERT_TRUE(kept.ends_with("..."));
  const std::string body = kept.substr(0, kept.size() - 3);
  EXPECT_EQ(body, message.substr(0, body.size()));
  EXPECT_NE(static_cast<unsigned char>(body.back()), 0xc3);  // no half character
}

// The dashboard's JSON quotes the message: bytes that are not UTF-8 (a
// quoted request target) are kept as U+FFFD.
TEST(ModelMetricsTest, AMessageIsKeptAsUtf8) {
  ModelMetrics m;
  m.record_error(404, "no route /v2/\xff\xfe/x");
  EXPECT_EQ(m.recent_errors().at(0).message, "no route /v2/\xef\xbf\xbd\xef\xbf\xbd/x");
}

}  // namespace
}  // namespace modelpool::server
