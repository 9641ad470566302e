#include "modelpool/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace modelpool {
namespace {

using namespace std::chrono_literals;

// Shared bookkeeping for the test instances of one pool.
struct Ledger {
  std::atomic<int> created{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> creating_now{0};
  std::atomic<int> max_creating{0};
  std::atomic<int> warmups{0};
  std::atomic<int> checks_to_fail{0};
  std::atomic<int> creations_to_fail{0};
  std::chrono::milliseconds create_time{0};
};

class TestInstance final : public Instance {
 public:
  explicit TestInstance(Ledger* ledger) : ledger_(ledger) {}
  ~TestInstance() override { ledger_->destroyed++; }
  std::size_t bytes() const override { return 1; }
  Status warmup() override {
    ledger_->warmups++;
    return {};
  }
  Status run(const Request&, Sink&, std::stop_token) override { return {}; }
  Status check() override {
    if (ledger_->checks_to_fail.fetch_sub(1) > 0) return internal_error("check failed on purpose");
    return {};
  }
  // Detects two leases of this instance at once.
  std::atomic<bool> in_use{false};

 private:
  Ledger* ledger_;
};

InstanceFactory factory_for(Ledger& ledger) {
  return [&ledger]() -> Result<std::unique_ptr<Instance>> {
    const int now = ++ledger.creating_now;
    int seen = ledger.max_creating.load();
    while (seen < now && !ledger.max_creating.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(ledger.create_time);
    --ledger.creating_now;
    if (ledger.creations_to_fail.fetch_sub(1) > 0) return model_failed_error("no GPU memory left");
    ledger.created++;
    return std::unique_ptr<Instance>(std::make_unique<TestInstance>(&ledger));
  };
}

std::unique_ptr<Pool> make_pool(Ledger& ledger, PoolOptions options) {
  auto pool = Pool::create(factory_for(ledger), std::move(options));
  EXPECT_TRUE(pool.ok()) << pool.status().to_string();
  return std::move(*pool);
}

PoolOptions sized(std::size_t min, std::size_t max) {
  PoolOptions o;
  o.name = "test";
  o.min_instances = min;
  o.max_instances = max;
  o.backoff_initial = 10ms;
  o.backoff_max = 40ms;
  return o;
}

// Polls `condition` until it holds or 10 s pass.
template <typename Fn>
bool eventually(Fn condition) {
  const auto until = Clock::now() + 10s;
  while (Clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return condition();
}

TEST(PoolTest, AcquireAndReleaseMoveAnInstanceBetweenIdleAndBusy) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(1, 1));
  ASSERT_TRUE(pool->wait_ready().ok());
  {
    Result<Lease> lease = pool->acquire();
    ASSERT_TRUE(lease.ok());
    EXPECT_TRUE(*lease);
    EXPECT_EQ(pool->snapshot().busy, 1u);
    EXPECT_EQ(pool->snapshot().idle, 0u);
  }
  PoolSnapshot s = pool->snapshot();
  EXPECT_EQ(s.busy, 0u);
  EXPECT_EQ(s.idle, 1u);
  EXPECT_EQ(s.acquired, 1u);
  EXPECT_EQ(s.lease_hold.count, 1u);
  EXPECT_EQ(ledger.warmups, 1);
}

TEST(PoolTest, ContendedAcquiresNeverShareAnInstanceAndAreGrantedInArrivalOrder) {
  constexpr int kThreads = 64;
  constexpr int kAcquiresPerThread = 200;
  Ledger ledger;
  auto pool = make_pool(ledger, sized(4, 4));
  ASSERT_TRUE(pool->wait_ready().ok());

  struct Grant {
    std::uint64_t grant, ticket;
  };
  std::vector<std::vector<Grant>> grants(kThreads);
  std::atomic<int> overlaps{0};
  std::latch start(kThreads);
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kAcquiresPerThread; ++i) {
        Result<Lease> lease = pool->acquire();
        ASSERT_TRUE(lease.ok()) << lease.status().to_string();
        auto& inst = static_cast<TestInstance&>(lease->instance());
        if (inst.in_use.exchange(true)) overlaps++;
        if (i % 8 == 0) std::this_thread::yield();
        inst.in_use.store(false);
        grants[t].push_back({lease->grant_sequence(), lease->ticket()});
      }
    });
  }
  threads.clear();

  EXPECT_EQ(overlaps, 0);
  std::vector<Grant> all;
  for (auto& g : grants) all.insert(all.end(), g.begin(), g.end());
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kAcquiresPerThread));
  std::sort(all.begin(), all.end(), [](const Grant& a, const Grant& b) { return a.grant < b.grant; });
  // FIFO without barging: grants, in the order made, carry increasing tickets.
  for (std::size_t i = 1; i < all.size(); ++i) {
    ASSERT_LT(all[i - 1].ticket, all[i].ticket) << "grant " << all[i].grant << " jumped the queue";
  }
  PoolSnapshot s = pool->snapshot();
  EXPECT_EQ(s.acquired, all.size());
  EXPECT_EQ(ledger.created, 4);
  EXPECT_EQ(s.idle, 4u);
}

TEST(PoolTest, WaitersAreServedInTheOrderTheyArrived) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(1, 1));
  Result<Lease> holder = pool->acquire();
  ASSERT_TRUE(holder.ok());

  constexpr int kWaiters = 8;
  std::mutex mu;
  std::vector<int> served;
  std::vector<std::jthread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      Result<Lease> lease = pool->acquire(Clock::now() + 30s);
      ASSERT_TRUE(lease.ok());
      std::lock_guard lock(mu);
      served.push_back(i);
    });
    // The next waiter starts only once this one is queued.
    ASSERT_TRUE(eventually([&] { return pool->snapshot().queue_length == std::size_t(i) + 1; }));
  }
  // A newcomer may not barge in front of the queue, even while the instance
  // is being handed over.
  EXPECT_EQ(pool->try_acquire().status().code(), StatusCode::kTimeout);
  holder->release();
  threads.clear();
  EXPECT_EQ(served, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(PoolTest, AcquireTimesOutAtTheDeadline) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(1, 1));
  Result<Lease> holder = pool->acquire();
  ASSERT_TRUE(holder.ok());
  const auto start = Clock::now();
  Result<Lease> late = pool->acquire(start + 50ms);
  EXPECT_EQ(late.status().code(), StatusCode::kTimeout);
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_EQ(pool->snapshot().timed_out, 1u);
  EXPECT_EQ(pool->snapshot().queue_length, 0u);
  // A deadline already past fails at once.
  EXPECT_EQ(pool->acquire(start).status().code(), StatusCode::kTimeout);
}

TEST(PoolTest, CancellingAQueuedAcquireReturnsCancelledAndLeavesTheQueue) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(1, 1));
  Result<Lease> holder = pool->acquire();
  ASSERT_TRUE(holder.ok());
  std::stop_source stop;
  Status outcome;
  std::jthread waiter([&] { outcome = pool->acquire(kNoDeadline, stop.get_token()).status(); });
  ASSERT_TRUE(eventually([&] { return pool->snapshot().queue_length == 1; }));
  stop.request_stop();
  waiter.join();
  EXPECT_EQ(outcome.code(), StatusCode::kCancelled);
  EXPECT_EQ(pool->snapshot().queue_length, 0u);
  EXPECT_EQ(pool->snapshot().cancelled, 1u);
  // An already-cancelled token fails at once, and the instance still serves.
  EXPECT_EQ(pool->acquire(kNoDeadline, stop.get_token()).status().code(), StatusCode::kCancelled);
  holder->release();
  EXPECT_TRUE(pool->acquire(Clock::now() + 1s).ok());
}

TEST(PoolTest, AFullQueueRejectsAtOnceAndQueuedCallersAreStillServed) {
  Ledger ledger;
  PoolOptions o = sized(1, 1);
  o.max_queue = 2;
  auto pool = make_pool(ledger, o);
  Result<Lease> holder = pool->acquire();
  ASSERT_TRUE(holder.ok());
  std::atomic<int> served{0};
  std::vector<std::jthread> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&] {
      if (pool->acquire(Clock::now() + 30s).ok()) served++;
    });
  }
  ASSERT_TRUE(eventually([&] { return pool->snapshot().queue_length == 2; }));
  Result<Lease> third = pool->acquire(Clock::now() + 30s);
  EXPECT_EQ(third.status().code(), StatusCode::kQueueFull);
  EXPECT_NE(third.status().message().find("max_queue 2"), std::string::npos);
  EXPECT_EQ(pool->snapshot().rejected, 1u);
  holder->release();
  waiters.clear();
  EXPECT_EQ(served, 2);
}

TEST(PoolTest, ZeroMaxQueueNeverWaits) {
  Ledger ledger;
  PoolOptions o = sized(1, 1);
  o.max_queue = 0;
  auto pool = make_pool(ledger, o);
  ASSERT_TRUE(pool->wait_ready().ok());
  Result<Lease> holder = pool->acquire();
  ASSERT_TRUE(holder.ok());
  EXPECT_EQ(pool->acquire().status().code(), StatusCode::kQueueFull);
}

TEST(PoolTest, ShutdownWakesEveryWaiterAndRefusesNewcomers) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(1, 1));
  Result<Lease> holder = pool->acquire();
  ASSERT_TRUE(holder.ok());
  std::vector<Status> outcomes(3);
  std::vector<std::jthread> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&, i] { outcomes[i] = pool->acquire().status(); });
  }
  ASSERT_TRUE(eventually([&] { return pool->snapshot().queue_length == 3; }));
  // The lease stays out past the drain timeout: shutdown says so.
  Status s = pool->shutdown(50ms);
  EXPECT_EQ(s.code(), StatusCode::kTimeout);
  EXPECT_NE(s.message().find("1 lease(s) still out"), std::string::npos);
  waiters.clear();
  for (const Status& o : outcomes) EXPECT_EQ(o.code(), StatusCode::kShuttingDown);
  EXPECT_EQ(pool->acquire().status().code(), StatusCode::kShuttingDown);
  EXPECT_EQ(ledger.destroyed, 0);
  holder->release();  // comes back after the drain: destroyed, not reused
  EXPECT_EQ(ledger.destroyed, 1);
}

TEST(PoolTest, ShutdownWaitsForLeasesToComeBack) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(2, 2));
  ASSERT_TRUE(pool->wait_ready().ok());
  Result<Lease> holder = pool->acquire();
  ASSERT_TRUE(holder.ok());
  std::jthread returner([&] {
    std::this_thread::sleep_for(50ms);
    holder->release();
  });
  EXPECT_TRUE(pool->shutdown(10s).ok());
  EXPECT_EQ(ledger.destroyed, 2);
}

TEST(PoolTest, ABrokenInstanceIsDestroyedAndReplaced) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(2, 2));
  ASSERT_TRUE(pool->wait_ready().ok());
  std::uint64_t broken_id = 0;
  {
    Result<Lease> lease = pool->acquire();
    ASSERT_TRUE(lease.ok());
    broken_id = lease->instance_id();
    lease->mark_broken("engine returned garbage");
  }
  ASSERT_TRUE(eventually([&] {
    PoolSnapshot s = pool->snapshot();
    return s.replaced == 1 && s.idle == 2 && s.destroyed == 1;
  }));
  EXPECT_EQ(ledger.destroyed, 1);
  EXPECT_EQ(ledger.created, 3);
  EXPECT_EQ(pool->snapshot().broken_total, 1u);
  Result<Lease> a = pool->acquire(), b = pool->acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->instance_id(), broken_id);
  EXPECT_NE(b->instance_id(), broken_id);
}

TEST(PoolTest, AnInstanceFailingItsHealthCheckIsReplaced) {
  Ledger ledger;
  ledger.checks_to_fail = 1;
  PoolOptions o = sized(1, 1);
  o.health_check_interval = 10ms;
  auto pool = make_pool(ledger, o);
  ASSERT_TRUE(eventually([&] { return pool->snapshot().replaced == 1; }));
  EXPECT_GE(ledger.destroyed, 1);
  EXPECT_TRUE(pool->acquire(Clock::now() + 5s).ok());
}

TEST(PoolTest, RepeatedCreationFailureReachesWaitersAsAnError) {
  Ledger ledger;
  ledger.creations_to_fail = 1000;
  PoolOptions o = sized(0, 2);
  o.eager = false;
  o.max_creation_failures = 3;
  auto pool = make_pool(ledger, o);
  Result<Lease> lease = pool->acquire(Clock::now() + 30s);
  EXPECT_EQ(lease.status().code(), StatusCode::kModelFailed);
  EXPECT_NE(lease.status().message().find("no GPU memory left"), std::string::npos);
  // Until the backoff is over, callers fail at once instead of queueing.
  Result<Lease> again = pool->acquire(Clock::now() + 30s);
  EXPECT_EQ(again.status().code(), StatusCode::kModelFailed);
  EXPECT_TRUE(pool->snapshot().failed);
  // The failure is not permanent: once creation works, the pool recovers.
  ledger.creations_to_fail = 0;
  ASSERT_TRUE(eventually([&] { return pool->acquire(Clock::now() + 1s).ok(); }));
  EXPECT_FALSE(pool->snapshot().failed);
}

TEST(PoolTest, WaitReadyReportsAnEagerPoolThatCannotCreate) {
  Ledger ledger;
  ledger.creations_to_fail = 1000;
  auto pool = make_pool(ledger, sized(2, 2));
  Status s = pool->wait_ready(Clock::now() + 30s);
  EXPECT_EQ(s.code(), StatusCode::kModelFailed);
  EXPECT_NE(s.message().find("no GPU memory left"), std::string::npos);
}

TEST(PoolTest, ALazyPoolCreatesOnDemandUpToMax) {
  Ledger ledger;
  PoolOptions o = sized(0, 3);
  o.eager = false;
  auto pool = make_pool(ledger, o);
  EXPECT_TRUE(pool->wait_ready().ok());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ledger.created, 0);
  std::vector<Lease> leases;
  for (int i = 0; i < 3; ++i) {
    Result<Lease> lease = pool->acquire(Clock::now() + 10s);
    ASSERT_TRUE(lease.ok());
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(ledger.created, 3);
  EXPECT_EQ(pool->acquire(Clock::now() + 30ms).status().code(), StatusCode::kTimeout);
  EXPECT_EQ(ledger.created, 3);
}

TEST(PoolTest, EagerCreationRunsInParallelAndReportsProgress) {
  Ledger ledger;
  ledger.create_time = 50ms;
  std::mutex mu;
  std::vector<std::size_t> live_seen;
  PoolOptions o = sized(4, 4);
  o.service_threads = 4;
  o.on_progress = [&](const PoolProgress& p) {
    std::lock_guard lock(mu);
    live_seen.push_back(p.live);
  };
  auto pool = make_pool(ledger, o);
  ASSERT_TRUE(pool->wait_ready().ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return live_seen.size() == 4;
  }));
  EXPECT_GT(ledger.max_creating, 1);
  std::lock_guard lock(mu);
  EXPECT_EQ(*std::max_element(live_seen.begin(), live_seen.end()), 4u);
}

TEST(PoolTest, ResizeGrowsAndShrinksAtRunTime) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(1, 4));
  ASSERT_TRUE(pool->wait_ready().ok());
  ASSERT_TRUE(pool->resize(3, 4).ok());
  ASSERT_TRUE(pool->wait_ready().ok());
  EXPECT_EQ(pool->snapshot().idle, 3u);
  Result<Lease> a = pool->acquire(), b = pool->acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(pool->resize(1, 1).ok());
  // Idle instances above max go now, busy ones when they come back.
  ASSERT_TRUE(eventually([&] { return pool->snapshot().idle == 0; }));
  a->release();
  b->release();
  ASSERT_TRUE(eventually([&] {
    PoolSnapshot s = pool->snapshot();
    return s.idle + s.busy == 1 && s.destroyed == 2;
  }));
  EXPECT_EQ(ledger.destroyed, 2);
  EXPECT_EQ(pool->resize(2, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pool->resize(0, 0).code(), StatusCode::kInvalidArgument);
}

TEST(PoolTest, IdleInstancesShrinkBackToMin) {
  Ledger ledger;
  PoolOptions o = sized(1, 3);
  o.autoscale.downscale_delay = 30ms;
  auto pool = make_pool(ledger, o);
  {
    std::vector<Lease> leases;
    for (int i = 0; i < 3; ++i) {
      Result<Lease> lease = pool->acquire(Clock::now() + 10s);
      ASSERT_TRUE(lease.ok());
      leases.push_back(std::move(*lease));
    }
  }
  ASSERT_TRUE(eventually([&] {
    PoolSnapshot s = pool->snapshot();
    return s.idle == 1 && s.destroyed == 2;
  }));
  EXPECT_EQ(ledger.destroyed, 2);
}

TEST(PoolTest, InvalidOptionsAreRefusedNamingTheField) {
  Ledger ledger;
  auto bad = Pool::create(factory_for(ledger), sized(3, 2));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("min_instances"), std::string::npos);
  EXPECT_EQ(Pool::create(factory_for(ledger), sized(0, 0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Pool::create(nullptr, sized(1, 1)).status().code(), StatusCode::kInvalidArgument);
}

TEST(PoolTest, ALeaseCannotBeReturnedTwiceOrUsedAfterMove) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(1, 1));
  Result<Lease> lease = pool->acquire();
  ASSERT_TRUE(lease.ok());
  Lease moved = std::move(*lease);
  EXPECT_FALSE(*lease);
  EXPECT_TRUE(moved);
  moved.release();
  moved.release();  // second release does nothing
  EXPECT_EQ(pool->snapshot().idle, 1u);
  EXPECT_EQ(pool->snapshot().busy, 0u);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(lease->instance(), "Lease used after release or move");
  EXPECT_DEATH(moved.instance(), "Lease used after release or move");
}

TEST(PoolTest, AFailedAcquireCannotBeUsedAsALease) {
  Ledger ledger;
  auto pool = make_pool(ledger, sized(1, 1));
  Result<Lease> holder = pool->acquire();
  Result<Lease> late = pool->acquire(Clock::now());
  ASSERT_FALSE(late.ok());
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(late->release(), "value\\(\\) called on an error Result: timeout");
}

// ---------------------------------------------------------------- instance states

// An instance whose warm-up waits for a gate, and that names itself.
class GatedInstance final : public Instance {
 public:
  GatedInstance(std::atomic<bool>* warm_gate, std::string label)
      : warm_gate_(warm_gate), label_(std::move(label)) {}
  std::size_t bytes() const override { return 1; }
  Status warmup() override {
    while (!warm_gate_->load()) std::this_thread::sleep_for(1ms);
    return {};
  }
  Status run(const Request&, Sink&, std::stop_token) override { return {}; }
  std::string label() const override { return label_; }

 private:
  std::atomic<bool>* warm_gate_;
  std::string label_;
};

// The states of `s`'s instances, in id order.
std::vector<InstanceState> states_of(const PoolSnapshot& s) {
  std::vector<InstanceState> out;
  for (const InstanceView& v : s.instances) out.push_back(v.state);
  return out;
}

// The counts and the per-instance list come from one read: they agree.
void expect_counts_agree(const PoolSnapshot& s) {
  auto n = [&](std::initializer_list<InstanceState> states) {
    return static_cast<std::size_t>(
        std::count_if(s.instances.begin(), s.instances.end(), [&](const InstanceView& v) {
          return std::find(states.begin(), states.end(), v.state) != states.end();
        }));
  };
  EXPECT_EQ(s.creating,
            n({InstanceState::kCreating, InstanceState::kWarming, InstanceState::kRestarting}));
  EXPECT_EQ(s.idle, n({InstanceState::kIdle}));
  EXPECT_EQ(s.busy, n({InstanceState::kBusy}));
  EXPECT_EQ(s.checking, n({InstanceState::kChecking}));
  EXPECT_EQ(s.broken, n({InstanceState::kBroken}));
}

TEST(PoolStatesTest, AnInstanceIsWarmingWhileItsWarmupRunsThenIdleThenBusyWithItsLabel) {
  std::atomic<bool> warm_gate{false};
  std::atomic<int> made{0};
  auto pool = Pool::create(
      [&]() -> Result<std::unique_ptr<Instance>> {
        return std::unique_ptr<Instance>(
            std::make_unique<GatedInstance>(&warm_gate, "pid " + std::to_string(1000 + made++)));
      },
      sized(1, 1));
  ASSERT_TRUE(pool.ok());
  Pool& p = **pool;
  ASSERT_TRUE(
      eventually([&] { return states_of(p.snapshot()) == std::vector{InstanceState::kWarming}; }));
  PoolSnapshot warming = p.snapshot();
  expect_counts_agree(warming);
  EXPECT_EQ(warming.creating, 1u);
  EXPECT_EQ(warming.instances[0].label, "");  // read once the instance is warm
  const std::uint64_t id = warming.instances[0].id;

  warm_gate = true;
  ASSERT_TRUE(p.wait_ready(Clock::now() + 10s).ok());
  PoolSnapshot idle = p.snapshot();
  expect_counts_agree(idle);
  ASSERT_EQ(states_of(idle), std::vector{InstanceState::kIdle});
  EXPECT_EQ(idle.instances[0].id, id);
  EXPECT_EQ(idle.instances[0].label, "pid 1000");
  {
    Result<Lease> lease = p.acquire();
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ(lease->instance_id(), id);
    PoolSnapshot busy = p.snapshot();
    expect_counts_agree(busy);
    ASSERT_EQ(states_of(busy), std::vector{InstanceState::kBusy});
    EXPECT_EQ(busy.instances[0].label, "pid 1000");
  }
  EXPECT_EQ(states_of(p.snapshot()), std::vector{InstanceState::kIdle});
}

TEST(PoolStatesTest, TheReplacementOfABrokenInstanceIsRestartingUntilItServes) {
  std::atomic<bool> warm_gate{true};
  std::atomic<int> made{0};
  PoolOptions o = sized(2, 2);
  auto pool = Pool::create(
      [&]() -> Result<std::unique_ptr<Instance>> {
        return std::unique_ptr<Instance>(
            std::make_unique<GatedInstance>(&warm_gate, "pid " + std::to_string(1000 + made++)));
      },
      o);
  ASSERT_TRUE(pool.ok());
  Pool& p = **pool;
  ASSERT_TRUE(p.wait_ready(Clock::now() + 10s).ok());
  warm_gate = false;  // the replacement's warm-up waits
  std::uint64_t broken_id = 0;
  {
    Result<Lease> lease = p.acquire();
    ASSERT_TRUE(lease.ok());
    broken_id = lease->instance_id();
    lease->mark_broken("worker died");
  }
  ASSERT_TRUE(eventually([&] {
    PoolSnapshot s = p.snapshot();
    return std::ranges::count_if(s.instances, [](const InstanceView& v) {
             return v.state == InstanceState::kRestarting;
           }) == 1;
  }));
  PoolSnapshot s = p.snapshot();
  expect_counts_agree(s);
  for (const InstanceView& v : s.instances) {
    if (v.state == InstanceState::kRestarting) {
      EXPECT_GT(v.id, broken_id);
    }
    EXPECT_TRUE(v.state == InstanceState::kRestarting || v.state == InstanceState::kIdle ||
                v.state == InstanceState::kBroken)
        << instance_state_name(v.state);
  }
  warm_gate = true;
  ASSERT_TRUE(eventually([&] {
    PoolSnapshot now = p.snapshot();
    return states_of(now) == std::vector{InstanceState::kIdle, InstanceState::kIdle};
  }));
  PoolSnapshot after = p.snapshot();
  EXPECT_EQ(after.instances[1].label, "pid 1002");
  for (const InstanceView& v : after.instances) EXPECT_NE(v.id, broken_id);
}

TEST(PoolStatesTest, InstanceStatesHaveNames) {
  EXPECT_EQ(instance_state_name(InstanceState::kCreating), "creating");
  EXPECT_EQ(instance_state_name(InstanceState::kWarming), "warming");
  EXPECT_EQ(instance_state_name(InstanceState::kRestarting), "restarting");
  EXPECT_EQ(instance_state_name(InstanceState::kIdle), "idle");
  EXPECT_EQ(instance_state_name(InstanceState::kBusy), "busy");
  EXPECT_EQ(instance_state_name(InstanceState::kChecking), "checking");
  EXPECT_EQ(instance_state_name(InstanceState::kBroken), "broken");
}

}  // namespace
}  // namespace modelpool
