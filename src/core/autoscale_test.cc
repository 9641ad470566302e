// The pool's autoscaler (PoolOptions::Autoscale) and its memory budget:
// growth from the load after upscale_delay, shrinking of idle instances only
// after downscale_delay, and growth that stops at the budget while every
// caller is still served.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "modelpool/memory_budget.h"
#include "modelpool/pool.h"

namespace modelpool {
namespace {

using namespace std::chrono_literals;

struct Counts {
  std::atomic<int> created{0};
  std::atomic<int> destroyed{0};
  std::size_t bytes = 100;  // what each instance reports
};

class SizedInstance final : public Instance {
 public:
  explicit SizedInstance(Counts* counts) : counts_(counts) {}
  ~SizedInstance() override { counts_->destroyed++; }
  std::size_t bytes() const override { return counts_->bytes; }
  Status run(const Request&, Sink&, std::stop_token) override { return {}; }

 private:
  Counts* counts_;
};

std::unique_ptr<Pool> make_pool(Counts& counts, PoolOptions o) {
  o.name = "scaled";
  o.warmup = false;
  o.backoff_initial = 10ms;
  o.backoff_max = 40ms;
  auto pool = Pool::create(
      [&counts]() -> Result<std::unique_ptr<Instance>> {
        counts.created++;
        return std::unique_ptr<Instance>(std::make_unique<SizedInstance>(&counts));
      },
      std::move(o));
  EXPECT_TRUE(pool.ok()) << pool.status().to_string();
  return std::move(*pool);
}

template <typename Fn>
bool eventually(Fn condition) {
  const auto until = Clock::now() + 10s;
  while (Clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return condition();
}

std::size_t live(const PoolSnapshot& s) { return s.idle + s.busy + s.checking; }

// Callers that hold leases until told to let go.
struct Callers {
  explicit Callers(Pool& pool) : pool(pool) {}
  ~Callers() { finish(); }
  void start(int n) {
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([this] {
        Result<Lease> lease = pool.acquire(Clock::now() + 20s);
        if (!lease.ok()) {
          failed++;
          return;
        }
        {
          std::lock_guard lock(mu);
          instances.insert(lease->instance_id());
        }
        served++;
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return go; });
      });
    }
  }
  void finish() {
    {
      std::lock_guard lock(mu);
      go = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    threads.clear();
  }
  Pool& pool;
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::set<std::uint64_t> instances;
  std::atomic<int> served{0}, failed{0};
  std::vector<std::thread> threads;
};

TEST(AutoscaleTest, GrowsUnderABurstOnlyAfterTheUpscaleDelay) {
  Counts counts;
  PoolOptions o;
  o.min_instances = 1;
  o.max_instances = 4;
  o.autoscale.upscale_delay = 300ms;
  auto pool = make_pool(counts, o);
  ASSERT_TRUE(pool->wait_ready(Clock::now() + 5s).ok());

  const auto burst = Clock::now();
  Callers callers(*pool);
  callers.start(4);  // 1 served at once, 3 wait: the load wants 4
  ASSERT_TRUE(eventually([&] { return pool->snapshot().queue_length == 3; }));
  EXPECT_EQ(pool->snapshot().desired, 4u);
  std::this_thread::sleep_for(100ms);
  if (Clock::now() - burst < 250ms) {
    EXPECT_EQ(counts.created, 1) << "grew before upscale_delay";
  }

  ASSERT_TRUE(eventually([&] { return callers.served == 4; }));
  EXPECT_GE(Clock::now() - burst, 300ms);
  EXPECT_EQ(counts.created, 4);
  EXPECT_EQ(callers.instances.size(), 4u);
}

TEST(AutoscaleTest, TargetOngoingRequestsSetsHowManyInstancesTheLoadWants) {
  Counts counts;
  PoolOptions o;
  o.min_instances = 1;
  o.max_instances = 8;
  o.autoscale.target_ongoing_requests = 2;  // two requests per instance: one runs, one waits
  auto pool = make_pool(counts, o);
  ASSERT_TRUE(pool->wait_ready(Clock::now() + 5s).ok());
  Callers callers(*pool);
  callers.start(6);
  // 6 ongoing / 2 = 3 instances; 3 run, 3 wait, and it does not grow past 3.
  ASSERT_TRUE(eventually([&] { return callers.served == 3; }));
  std::this_thread::sleep_for(100ms);
  const PoolSnapshot s = pool->snapshot();
  EXPECT_EQ(s.desired, 3u);
  EXPECT_EQ(live(s), 3u);
  EXPECT_EQ(s.queue_length, 3u);
  callers.finish();
  EXPECT_EQ(callers.served, 6);
}

TEST(AutoscaleTest, ShrinksIdleInstancesAfterTheDownscaleDelayNeverOneWithWork) {
  Counts counts;
  PoolOptions o;
  o.min_instances = 1;
  o.max_instances = 4;
  o.autoscale.downscale_delay = 300ms;
  auto pool = make_pool(counts, o);
  std::vector<Lease> leases;
  for (int i = 0; i < 4; ++i) {
    Result<Lease> lease = pool->acquire(Clock::now() + 5s);
    ASSERT_TRUE(lease.ok());
    leases.push_back(std::move(*lease));
  }
  ASSERT_EQ(counts.created, 4);
  // Two keep working; two come back idle. The load wants 2 of the 4.
  const std::uint64_t working[] = {leases[0].instance_id(), leases[1].instance_id()};
  leases[2].release();
  leases[3].release();
  const auto idle_at = Clock::now();
  std::this_thread::sleep_for(100ms);
  if (Clock::now() - idle_at < 250ms) {
    EXPECT_EQ(counts.destroyed, 0) << "shrank before downscale_delay";
  }
  ASSERT_TRUE(eventually([&] { return counts.destroyed == 2; }));
  EXPECT_GE(Clock::now() - idle_at, 300ms);
  std::this_thread::sleep_for(400ms);  // the busy two stay busy: nothing more goes
  EXPECT_EQ(counts.destroyed, 2);
  EXPECT_EQ(leases[0].instance_id(), working[0]);
  EXPECT_EQ(leases[1].instance_id(), working[1]);
  EXPECT_EQ(pool->snapshot().busy, 2u);

  // When they come back the load wants none: down to min_instances, not below.
  leases.clear();
  ASSERT_TRUE(eventually([&] { return counts.destroyed == 3; }));
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(counts.destroyed, 3);
  EXPECT_EQ(live(pool->snapshot()), 1u);
}

TEST(AutoscaleTest, ABriefDipInLoadDoesNotShrink) {
  Counts counts;
  PoolOptions o;
  o.min_instances = 1;
  o.max_instances = 2;
  o.autoscale.downscale_delay = 300ms;
  auto pool = make_pool(counts, o);
  Result<Lease> a = pool->acquire(Clock::now() + 5s);
  Result<Lease> b = pool->acquire(Clock::now() + 5s);
  ASSERT_TRUE(a.ok() && b.ok());
  // Every 100 ms one instance comes back and is taken again: the dips are
  // shorter than the delay, so both stay.
  for (int i = 0; i < 8; ++i) {
    b->release();
    std::this_thread::sleep_for(100ms);
    b = pool->acquire(Clock::now() + 5s);
    ASSERT_TRUE(b.ok());
  }
  EXPECT_EQ(counts.destroyed, 0);
}

TEST(AutoscaleTest, GrowthStopsAtTheBudgetAndWaitingCallersAreServedByWhatExists) {
  Counts counts;  // each instance reports 100 bytes
  auto budget = MemoryBudget::create(450);
  Result<MemoryReservation> other = budget->reserve(150, "another model");  // 300 left: 3 instances
  ASSERT_TRUE(other.ok());
  std::atomic<int> refusals_reported{0};
  std::string reported;
  PoolOptions o;
  o.min_instances = 1;
  o.max_instances = 8;
  o.memory_budget = budget;
  o.instance_bytes = 100;
  o.budget_retry = 50ms;
  o.on_growth_refused = [&](const Status& s) {
    if (refusals_reported++ == 0) reported = s.message();
  };
  auto pool = make_pool(counts, o);
  ASSERT_TRUE(pool->wait_ready(Clock::now() + 5s).ok());

  Callers callers(*pool);
  callers.start(8);
  ASSERT_TRUE(eventually([&] { return callers.served == 3; }));
  std::this_thread::sleep_for(300ms);  // several retries: still 3
  PoolSnapshot s = pool->snapshot();
  EXPECT_EQ(live(s), 3u);
  EXPECT_EQ(s.queue_length, 5u);
  EXPECT_EQ(s.desired, 8u);
  EXPECT_TRUE(s.budget_limited);
  EXPECT_GE(s.growth_refused, 2u);
  EXPECT_EQ(s.reserved_bytes, 300u);
  EXPECT_EQ(budget->snapshot().used, 450u);
  EXPECT_LE(budget->snapshot().peak, 450u);
  EXPECT_EQ(refusals_reported, 1) << "one report per episode, not per retry";
  EXPECT_NE(reported.find("memory budget: pool 'scaled': instance 4 needs 100 B, 450 B of 450 B in use"),
            std::string::npos)
      << reported;

  // Every caller is served, by the three instances there are.
  callers.finish();
  EXPECT_EQ(callers.served, 8);
  EXPECT_EQ(callers.failed, 0);
  EXPECT_EQ(callers.instances.size(), 3u);
  EXPECT_EQ(counts.created, 3);
  EXPECT_TRUE(eventually([&] { return !pool->snapshot().budget_limited; }));

  // Memory given back elsewhere lets it grow again, to what now fits.
  other->release();
  Callers more(*pool);
  more.start(5);
  ASSERT_TRUE(eventually([&] { return more.served == 4; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(more.served, 4);
  EXPECT_EQ(counts.created, 4);
  EXPECT_EQ(budget->snapshot().used, 400u);
  more.finish();
  EXPECT_EQ(more.served, 5);
}

TEST(AutoscaleTest, ABudgetTooSmallForMinInstancesFailsTheModelNamingTheBudget) {
  Counts counts;
  auto budget = MemoryBudget::create(150);
  PoolOptions o;
  o.min_instances = 2;
  o.max_instances = 2;
  o.memory_budget = budget;
  o.instance_bytes = 100;
  auto pool = make_pool(counts, o);
  Status ready = pool->wait_ready(Clock::now() + 10s);
  EXPECT_EQ(ready.code(), StatusCode::kModelFailed);
  EXPECT_NE(ready.message().find("memory budget"), std::string::npos) << ready.message();
  EXPECT_EQ(counts.created, 1);
}

TEST(AutoscaleTest, AnInstanceLargerThanExpectedIsDestroyedAndItsSizeLearned) {
  Counts counts;
  counts.bytes = 200;  // the estimate says 0: nothing known before the first
  auto budget = MemoryBudget::create(500);
  PoolOptions o;
  o.min_instances = 0;
  o.max_instances = 4;
  o.memory_budget = budget;
  o.budget_retry = 50ms;
  auto pool = make_pool(counts, o);
  Callers callers(*pool);
  callers.start(4);
  ASSERT_TRUE(eventually([&] { return callers.served == 2; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(callers.served, 2);
  EXPECT_LE(budget->snapshot().peak, 500u);
  EXPECT_EQ(budget->snapshot().used, 400u);
  // At most one instance was made before its size was known and refused.
  EXPECT_LE(counts.created, 3);
  callers.finish();
  EXPECT_EQ(callers.served, 4);
}

}  // namespace
}  // namespace modelpool
