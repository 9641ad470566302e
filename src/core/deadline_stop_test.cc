#include "core/deadline_stop.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace modelpool {
namespace {

using namespace std::chrono_literals;

bool stops_within(const std::stop_token& token, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (token.stop_requested()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return token.stop_requested();
}

TEST(DeadlineStopTest, FiresAtTheDeadlineAndSaysSo) {
  const auto start = Clock::now();
  DeadlineStop timed(start + 100ms, {});
  EXPECT_FALSE(timed.token().stop_requested());
  ASSERT_TRUE(stops_within(timed.token(), 5s));
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_TRUE(timed.expired());
}

TEST(DeadlineStopTest, TheCallersStopIsForwardedAndIsNotExpiry) {
  std::stop_source caller;
  DeadlineStop timed(Clock::now() + 10s, caller.get_token());
  caller.request_stop();
  EXPECT_TRUE(timed.token().stop_requested());
  EXPECT_FALSE(timed.expired());
}

TEST(DeadlineStopTest, NoDeadlineIsTheCallersTokenItself) {
  std::stop_source caller;
  DeadlineStop timed(kNoDeadline, caller.get_token());
  EXPECT_TRUE(timed.token() == caller.get_token());
  EXPECT_FALSE(timed.expired());
}

TEST(DeadlineStopTest, ManyDeadlinesFireInOrderAndFinishedOnesUnregister) {
  std::vector<std::unique_ptr<DeadlineStop>> stops;
  const auto start = Clock::now();
  for (int i = 0; i < 50; ++i) stops.push_back(std::make_unique<DeadlineStop>(start + (50 - i) * 4ms, std::stop_token{}));
  // Half of them end before their deadline (their runs finished): nothing fires for them.
  for (int i = 0; i < 50; i += 2) stops[i].reset();
  for (int i = 1; i < 50; i += 2) ASSERT_TRUE(stops_within(stops[i]->token(), 5s)) << i;
  for (int i = 1; i < 50; i += 2) EXPECT_TRUE(stops[i]->expired());
}

TEST(DeadlineStopTest, AStopThatEndsWhileTheTimerWaitsForItLeavesTheTimerSound) {
  // The timer sleeps until the earliest deadline; that entry goes away
  // while it sleeps, and a new earlier one wakes it (AddressSanitizer
  // fails this if the timer still reads the erased entry).
  auto first = std::make_unique<DeadlineStop>(Clock::now() + 10s, std::stop_token{});
  std::this_thread::sleep_for(20ms);
  first.reset();
  DeadlineStop second(Clock::now() + 30ms, {});
  ASSERT_TRUE(stops_within(second.token(), 5s));
  EXPECT_TRUE(second.expired());
}

}  // namespace
}  // namespace modelpool
