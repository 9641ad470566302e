// BatchScheduler's rules on a fake engine whose steps the test can hold,
// release one at a time or fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include "modelpool/batching.h"
#include "modelpool/pool.h"

namespace modelpool {
namespace {

using namespace std::chrono_literals;

// A request of `prompt` units that ends after producing `outputs` (the step
// that feeds its last prompt unit produces the first).
class FakeItem final : public BatchItem {
 public:
  FakeItem(char name, std::size_t prompt, std::size_t outputs)
      : name_(name), prompt_(prompt), outputs_(outputs) {}

  std::size_t prefill_pending() const override { return prompt_ - prefilled_; }
  bool finished() const override { return ended_ || produced_ >= outputs_; }
  void finish_now() override {
    ended_ = true;
    ++finish_now_calls;
  }
  void mark_started() override { ++mark_started_calls; }
  bool held() const override { return held_; }
  void set_held(bool held) { held_ = held; }

  // The engine's side of a step.
  void advance(std::size_t prefill) {
    if (prefill == 0) {
      ++produced_;
      return;
    }
    prefilled_ += prefill;
    if (prefilled_ == prompt_) ++produced_;
  }

  char name() const { return name_; }
  std::size_t produced() const { return produced_; }
  int finish_now_calls = 0;
  int mark_started_calls = 0;

 private:
  const char name_;
  const std::size_t prompt_;
  const std::size_t outputs_;
  std::size_t prefilled_ = 0;
  std::size_t produced_ = 0;
  bool ended_ = false;
  bool held_ = false;
};

// One entry of a step as the engine saw it: "B1:8" is item B in slot 1 with
// 8 prompt units (0: one decode unit).
struct Seen {
  char name;
  int slot;
  std::size_t prefill;
  bool operator==(const Seen&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << s.name << s.slot << ':' << s.prefill;
}
using Step = std::vector<Seen>;

class FakeEngine final : public StepEngine {
 public:
  Status step(std::span<const StepEntry> entries) override {
    std::unique_lock lock(mu_);
    Step seen;
    std::size_t units = 0;
    for (const StepEntry& e : entries) {
      auto* item = static_cast<FakeItem*>(e.item);
      seen.push_back({item->name(), e.slot, e.prefill});
      if (item->mark_started_calls != 1) ++unstarted_entries_;
      units += e.prefill == 0 ? 1 : e.prefill;
    }
    most_units_ = std::max(most_units_, units);
    steps_.push_back(std::move(seen));
    const std::size_t number = steps_.size();
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_ || allowed_ > 0; });
    if (held_) --allowed_;
    const bool fail = number == fail_at_;
    lock.unlock();
    if (fail) return internal_error("the engine caught fire");
    for (const StepEntry& e : entries) static_cast<FakeItem*>(e.item)->advance(e.prefill);
    if (after_step) after_step();
    return {};
  }

  void admit(BatchItem& item, int slot) override {
    if (on_admit) on_admit(static_cast<FakeItem&>(item), slot);
  }

  // Called on the loop thread (set before the scheduler starts).
  std::function<void(FakeItem&, int)> on_admit;
  std::function<void()> after_step;

  void release(int slot) override {
    std::lock_guard lock(mu_);
    released_.push_back(slot);
    cv_.notify_all();
  }

  // Steps wait for allow() from now on.
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  // Lets `n` held steps finish.
  void allow(int n = 1) {
    std::lock_guard lock(mu_);
    allowed_ += n;
    cv_.notify_all();
  }
  // Steps run freely again.
  void open() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // Step number `n` (from 1) returns an error.
  void fail_step(std::size_t n) {
    std::lock_guard lock(mu_);
    fail_at_ = n;
  }
  // Waits until step number `n` has begun (it may be held there).
  bool wait_for_step(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return steps_.size() >= n; });
  }
  Step step_seen(std::size_t n) {
    std::lock_guard lock(mu_);
    return n >= 1 && n <= steps_.size() ? steps_[n - 1] : Step{};
  }
  std::size_t steps() {
    std::lock_guard lock(mu_);
    return steps_.size();
  }
  std::vector<int> released() {
    std::lock_guard lock(mu_);
    return released_;
  }
  int unstarted_entries() {
    std::lock_guard lock(mu_);
    return unstarted_entries_;
  }
  std::size_t most_units() {
    std::lock_guard lock(mu_);
    return most_units_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  std::vector<Step> steps_;
  std::vector<int> released_;
  bool held_ = false;
  int allowed_ = 0;
  std::size_t fail_at_ = 0;
  int unstarted_entries_ = 0;
  std::size_t most_units_ = 0;
};

bool eventually(const std::function<bool()>& condition) {
  const auto until = Clock::now() + 5s;
  while (!condition()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class BatchSchedulerTest : public ::testing::Test {
 protected:
  // One caller of run() on its own thread.
  struct Caller {
    Caller(char name, std::size_t prompt, std::size_t outputs) : item(name, prompt, outputs) {}
    FakeItem item;
    std::stop_source stop;
    Status status = internal_error("still running");
    std::atomic<bool> done{false};
    std::jthread thread;
  };

  void TearDown() override {
    // Whatever a failed assertion left running ends within a step.
    engine_.open();
    for (auto& c : callers_) c->stop.request_stop();
    callers_.clear();
    scheduler_.reset();
  }

  void make(BatchSchedulerOptions options) {
    auto s = BatchScheduler::create(engine_, options);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    scheduler_ = std::move(*s);
  }

  Caller& start(char name, std::size_t prompt, std::size_t outputs,
                Deadline deadline = kNoDeadline) {
    callers_.push_back(std::make_unique<Caller>(name, prompt, outputs));
    Caller* c = callers_.back().get();
    c->thread = std::jthread([this, c, deadline] {
      c->status = scheduler_->run(c->item, deadline, c->stop.get_token());
      c->done = true;
    });
    return *c;
  }

  // start(), then waits until the scheduler holds the call, so that calls
  // arrive in the order they are made. REQUIRES: a step is held.
  Caller& arrive(char name, std::size_t prompt, std::size_t outputs) {
    const std::size_t before = scheduler_->waiting();
    Caller& c = start(name, prompt, outputs);
    EXPECT_TRUE(eventually([&] { return scheduler_->waiting() == before + 1; }));
    return c;
  }

  static Status finish(Caller& c) {
    if (c.thread.joinable()) c.thread.join();
    return c.status;
  }

  FakeEngine engine_;
  std::unique_ptr<BatchScheduler> scheduler_;
  std::vector<std::unique_ptr<Caller>> callers_;
};

BatchSchedulerOptions options(std::size_t slots, std::size_t batch, std::size_t prefill_chunk) {
  BatchSchedulerOptions o;
  o.slots = slots;
  o.batch = batch;
  o.prefill_chunk = prefill_chunk;
  o.prefill_stall = 0;  // the fixed chunk: these tests are about the rules, not the cost model
  return o;
}

TEST_F(BatchSchedulerTest, CallsJoinInArrivalOrderTakingTheLowestFreeSlots) {
  make(options(4, 64, 8));
  engine_.hold();
  Caller& a = start('A', 1, 100);
  ASSERT_TRUE(engine_.wait_for_step(1));
  arrive('B', 4, 100);
  arrive('C', 4, 100);
  arrive('D', 4, 100);
  engine_.allow(1);
  ASSERT_TRUE(engine_.wait_for_step(2));
  EXPECT_EQ(engine_.step_seen(1), (Step{{'A', 0, 1}}));
  EXPECT_EQ(engine_.step_seen(2), (Step{{'A', 0, 0}, {'B', 1, 4}, {'C', 2, 4}, {'D', 3, 4}}));
  engine_.open();
  for (auto& c : callers_) c->stop.request_stop();
  EXPECT_TRUE(finish(a).ok());
  EXPECT_EQ(engine_.unstarted_entries(), 0);  // mark_started came before each first step
  for (auto& c : callers_) {
    ASSERT_TRUE(finish(*c).ok());
    EXPECT_EQ(c->item.mark_started_calls, 1);
  }
}

TEST_F(BatchSchedulerTest, ACallJoinsTheRunningBatchAtTheNextStepNotWhenItDrains) {
  make(options(2, 16, 4));
  engine_.hold();
  Caller& a = start('A', 3, 1000);
  engine_.allow(2);
  ASSERT_TRUE(engine_.wait_for_step(3));  // A decoding, step 3 held
  Caller& b = arrive('B', 2, 3);
  engine_.allow(1);
  ASSERT_TRUE(engine_.wait_for_step(4));
  EXPECT_EQ(engine_.step_seen(3), (Step{{'A', 0, 0}}));
  EXPECT_EQ(engine_.step_seen(4), (Step{{'A', 0, 0}, {'B', 1, 2}}));
  engine_.allow(3);  // B's three steps
  ASSERT_TRUE(finish(b).ok());
  EXPECT_EQ(b.item.produced(), 3u);
  EXPECT_FALSE(a.done.load());  // B came and went while A ran on
  a.stop.request_stop();
  engine_.open();
  EXPECT_TRUE(finish(a).ok());
}

TEST_F(BatchSchedulerTest, AStoppedCallLeavesWithinOneStepAndTheNextCallTakesItsSlot) {
  make(options(1, 16, 4));
  engine_.hold();
  Caller& a = start('A', 2, 1000);
  engine_.allow(4);
  ASSERT_TRUE(engine_.wait_for_step(5));
  a.stop.request_stop();  // during step 5
  Caller& b = arrive('B', 2, 2);
  engine_.allow(1);  // step 5 ends; A leaves before step 6
  ASSERT_TRUE(engine_.wait_for_step(6));
  EXPECT_EQ(engine_.step_seen(6), (Step{{'B', 0, 2}}));
  ASSERT_TRUE(finish(a).ok());  // a stop is no error: the item keeps what it made
  EXPECT_EQ(a.item.finish_now_calls, 1);
  EXPECT_EQ(a.item.produced(), 5u);  // one per step, 1..5
  EXPECT_EQ(engine_.released(), (std::vector<int>{0}));
  engine_.open();
  ASSERT_TRUE(finish(b).ok());
  EXPECT_EQ(b.item.finish_now_calls, 0);
  EXPECT_EQ(engine_.released(), (std::vector<int>{0, 0}));
}

TEST_F(BatchSchedulerTest, ACallStillRunningAtItsDeadlineTimesOutAndFreesItsSlot) {
  BatchSchedulerOptions o = options(1, 16, 4);
  o.step_delay = 2ms;  // the fault injection: steps take at least this long
  make(o);
  const auto t0 = Clock::now();
  Caller& a = start('A', 2, 1'000'000, t0 + 80ms);
  const Status status = finish(a);
  EXPECT_EQ(status.code(), StatusCode::kTimeout) << status.to_string();
  EXPECT_GE(Clock::now() - t0, 80ms);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(a.item.finish_now_calls, 1);
  EXPECT_GT(a.item.produced(), 5u);  // it ran until then
  EXPECT_EQ(engine_.released(), (std::vector<int>{0}));

  Caller& b = start('B', 2, 2, Clock::now() + 10s);
  ASSERT_TRUE(finish(b).ok());
  EXPECT_EQ(b.item.produced(), 2u);
  EXPECT_EQ(engine_.released(), (std::vector<int>{0, 0}));
}

TEST_F(BatchSchedulerTest, DecodingItemsComeFirstThenPromptUnitsToTheOldestWithinTheBudget) {
  // batch 16, prefill_chunk 4: while items decode, a step takes at most 4
  // prompt units per prefilling item, oldest first.
  make(options(4, 16, 4));
  engine_.hold();
  Caller& a = start('A', 1, 1000);
  ASSERT_TRUE(engine_.wait_for_step(1));
  arrive('B', 10, 1000);
  arrive('C', 30, 1000);
  engine_.allow(3);
  ASSERT_TRUE(engine_.wait_for_step(4));
  EXPECT_EQ(engine_.step_seen(1), (Step{{'A', 0, 1}}));
  // 1 decoding, 2 prefilling: min(16 - 1, 2 * 4) = 8 prompt units, all to B.
  EXPECT_EQ(engine_.step_seen(2), (Step{{'A', 0, 0}, {'B', 1, 8}}));
  // B's last 2, then C takes the remaining 6.
  EXPECT_EQ(engine_.step_seen(3), (Step{{'A', 0, 0}, {'B', 1, 2}, {'C', 2, 6}}));
  // 2 decoding, 1 prefilling: 4.
  EXPECT_EQ(engine_.step_seen(4), (Step{{'A', 0, 0}, {'B', 1, 0}, {'C', 2, 4}}));
  engine_.open();
  a.stop.request_stop();
  for (auto& c : callers_) c->stop.request_stop();
  EXPECT_LE(engine_.most_units(), 16u);
}

TEST_F(BatchSchedulerTest, AHeldItemSitsStepsOutUntilTheEngineLetsItGo) {
  // The engine holds B at admission until A's prompt is done (as a prefix
  // cache holds a prompt whose prefix another is computing).
  FakeItem* b = nullptr;
  std::vector<char> admitted;
  engine_.on_admit = [&](FakeItem& item, int) {
    admitted.push_back(item.name());
    EXPECT_EQ(item.mark_started_calls, 0);  // before its first step is planned
    if (item.name() == 'B') {
      item.set_held(true);
      b = &item;
    }
  };
  int steps = 0;
  engine_.after_step = [&] {
    if (++steps == 2 && b != nullptr) b->set_held(false);
  };
  make(options(4, 64, 8));
  engine_.hold();
  Caller& x = start('X', 1, 1);
  ASSERT_TRUE(engine_.wait_for_step(1));
  arrive('A', 20, 2);
  arrive('B', 20, 2);
  engine_.allow(3);
  ASSERT_TRUE(engine_.wait_for_step(4));
  // Step 2: A's prompt, B held (and not started). Step 3: B joins.
  EXPECT_EQ(engine_.step_seen(2), (Step{{'A', 0, 20}}));
  EXPECT_EQ(engine_.step_seen(3), (Step{{'A', 0, 0}, {'B', 1, 8}}));  // A decodes: a chunk
  engine_.open();
  for (auto& c : callers_) ASSERT_TRUE(finish(*c).ok());
  EXPECT_EQ(admitted, (std::vector<char>{'X', 'A', 'B'}));
  EXPECT_TRUE(finish(x).ok());
}

TEST_F(BatchSchedulerTest, ItemsThatAreAllHeldAreSteppedAnywayRatherThanLeftWaiting) {
  engine_.on_admit = [](FakeItem& item, int) { item.set_held(true); };
  make(options(2, 16, 4));
  Caller& a = start('A', 3, 2);
  ASSERT_TRUE(finish(a).ok());
  EXPECT_EQ(engine_.step_seen(1), (Step{{'A', 0, 3}}));
}

TEST_F(BatchSchedulerTest, WithNothingDecodingPromptsGetTheWholeBatch) {
  make(options(4, 16, 4));
  engine_.hold();
  Caller& x = start('X', 1, 1);  // one step, then gone
  ASSERT_TRUE(engine_.wait_for_step(1));
  Caller& e = arrive('E', 10, 2);
  Caller& f = arrive('F', 10, 2);
  engine_.allow(3);
  ASSERT_TRUE(engine_.wait_for_step(4));
  ASSERT_TRUE(finish(x).ok());
  // X left after step 1, so E takes slot 0 again; nothing decodes: 16 units.
  EXPECT_EQ(engine_.step_seen(2), (Step{{'E', 0, 10}, {'F', 1, 6}}));
  EXPECT_EQ(engine_.step_seen(3), (Step{{'E', 0, 0}, {'F', 1, 4}}));
  engine_.open();
  ASSERT_TRUE(finish(e).ok());
  ASSERT_TRUE(finish(f).ok());

  // Alone, a long prompt goes in batch-sized steps.
  Caller& g = start('G', 40, 1);
  ASSERT_TRUE(finish(g).ok());
  const std::size_t n = engine_.steps();
  EXPECT_EQ(engine_.step_seen(n - 2), (Step{{'G', 0, 16}}));
  EXPECT_EQ(engine_.step_seen(n - 1), (Step{{'G', 0, 16}}));
  EXPECT_EQ(engine_.step_seen(n), (Step{{'G', 0, 8}}));
}

TEST_F(BatchSchedulerTest, AFreedSlotGoesToTheNextCallAndStepsAreInSlotOrder) {
  make(options(4, 64, 8));
  engine_.hold();
  Caller& a = start('A', 1, 1000);
  ASSERT_TRUE(engine_.wait_for_step(1));
  Caller& b = arrive('B', 1, 1000);
  Caller& c = arrive('C', 1, 1000);
  engine_.allow(2);
  ASSERT_TRUE(engine_.wait_for_step(3));  // step 3 held
  b.stop.request_stop();
  arrive('D', 2, 1000);
  engine_.allow(1);
  ASSERT_TRUE(engine_.wait_for_step(4));
  ASSERT_TRUE(finish(b).ok());
  EXPECT_EQ(engine_.step_seen(3), (Step{{'A', 0, 0}, {'B', 1, 0}, {'C', 2, 0}}));
  // D is the newest but has the lowest free slot, 1 (not 3).
  EXPECT_EQ(engine_.step_seen(4), (Step{{'A', 0, 0}, {'D', 1, 2}, {'C', 2, 0}}));
  EXPECT_EQ(engine_.released(), (std::vector<int>{1}));
  engine_.open();
  a.stop.request_stop();
  c.stop.request_stop();
  for (auto& caller : callers_) caller->stop.request_stop();
}

TEST_F(BatchSchedulerTest, AFailedStepEndsEveryRunningItemWithItsError) {
  make(options(4, 16, 4));
  engine_.hold();
  Caller& a = start('A', 1, 1000);
  ASSERT_TRUE(engine_.wait_for_step(1));
  Caller& b = arrive('B', 3, 1000);
  engine_.fail_step(2);
  engine_.open();
  for (Caller* c : {&a, &b}) {
    const Status s = finish(*c);
    EXPECT_EQ(s.code(), StatusCode::kInternal);
    EXPECT_EQ(s.message(), "the engine caught fire");
  }
  EXPECT_EQ(engine_.step_seen(2), (Step{{'A', 0, 0}, {'B', 1, 3}}));
  std::vector<int> released = engine_.released();
  std::sort(released.begin(), released.end());
  EXPECT_EQ(released, (std::vector<int>{0, 1}));
  // The scheduler goes on: the next call runs from slot 0.
  Caller& c = start('C', 2, 2);
  ASSERT_TRUE(finish(c).ok());
  EXPECT_EQ(engine_.step_seen(3), (Step{{'C', 0, 2}}));
}

TEST_F(BatchSchedulerTest, StalledForGrowsWhileAStepIsStuckAndIsZeroWhenIdle) {
  make(options(2, 16, 4));
  EXPECT_EQ(scheduler_->stalled_for(), 0ms);
  engine_.hold();
  Caller& a = start('A', 1, 2);
  ASSERT_TRUE(engine_.wait_for_step(1));
  std::this_thread::sleep_for(50ms);
  const auto first = scheduler_->stalled_for();
  EXPECT_GE(first, 50ms);
  std::this_thread::sleep_for(30ms);
  EXPECT_GE(scheduler_->stalled_for(), first + 30ms);
  engine_.allow(1);
  ASSERT_TRUE(engine_.wait_for_step(2));
  EXPECT_LT(scheduler_->stalled_for(), 50ms);  // a step finished: the heartbeat came
  engine_.open();
  ASSERT_TRUE(finish(a).ok());
  ASSERT_TRUE(eventually([&] { return scheduler_->stalled_for() == 0ms; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(scheduler_->stalled_for(), 0ms);  // idle is not stalled
}

TEST_F(BatchSchedulerTest, BadOptionsAreRefusedByName) {
  auto zero = BatchScheduler::create(engine_, options(0, 16, 4));
  EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
  auto small = BatchScheduler::create(engine_, options(8, 4, 4));
  EXPECT_EQ(small.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(small.status().message().find("batch (4) must be >= slots (8)"), std::string::npos);
  auto chunk = BatchScheduler::create(engine_, options(2, 4, 0));
  EXPECT_NE(chunk.status().message().find("prefill_chunk"), std::string::npos);
}

TEST_F(BatchSchedulerTest, DestroyingAnIdleSchedulerJoinsItsThread) {
  make(options(2, 16, 4));
  const auto t0 = Clock::now();
  scheduler_.reset();
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(engine_.steps(), 0u);

  make(options(2, 16, 4));
  Caller& a = start('A', 3, 2);
  ASSERT_TRUE(finish(a).ok());
  scheduler_.reset();  // after work, too
  EXPECT_EQ(engine_.released(), (std::vector<int>{0}));
}

}  // namespace
}  // namespace modelpool
