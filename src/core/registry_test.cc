#include "modelpool/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

namespace modelpool {
namespace {

using namespace std::chrono_literals;

class TestWeights final : public Weights {
 public:
  explicit TestWeights(std::atomic<int>* alive) : alive_(alive) { ++*alive_; }
  ~TestWeights() override { --*alive_; }
  std::size_t bytes() const override { return 4096; }

 private:
  std::atomic<int>* alive_;
};

struct Loads {
  std::atomic<int> calls{0};
  std::atomic<int> alive{0};
  std::atomic<int> failures_left{0};
  std::chrono::milliseconds load_time{0};

  Registry::Loader loader() {
    return [this](const ModelSpec& spec, const ProgressFn&) -> Result<std::shared_ptr<const Weights>> {
      ++calls;
      std::this_thread::sleep_for(load_time);
      if (failures_left.fetch_sub(1) > 0) return not_found_error("no such file: " + spec.path);
      return std::shared_ptr<const Weights>(std::make_shared<TestWeights>(&alive));
    };
  }
};

ModelSpec spec_for(const std::string& path) {
  ModelSpec s;
  s.name = "m";
  s.backend = "test";
  s.path = path;
  return s;
}

RegistryOptions ttl(std::chrono::milliseconds t) {
  RegistryOptions o;
  o.unload_after_idle = t;
  return o;
}

TEST(RegistryTest, ConcurrentRequestsForOneModelLoadItOnce) {
  Loads loads;
  loads.load_time = 100ms;
  Registry registry(loads.loader(), ttl(0ms));
  constexpr int kThreads = 16;
  std::vector<const Weights*> got(kThreads, nullptr);
  std::vector<WeightsRef> refs(kThreads);
  std::latch start(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        Result<WeightsRef> ref = registry.get(spec_for("model.gguf"));
        ASSERT_TRUE(ref.ok());
        got[i] = ref->shared().get();
        refs[i] = std::move(*ref);
      });
    }
  }
  EXPECT_EQ(loads.calls, 1);
  EXPECT_EQ(registry.load_count(), 1u);
  EXPECT_EQ(registry.hit_count(), static_cast<std::uint64_t>(kThreads - 1));  // every other get shared the load
  for (const Weights* w : got) EXPECT_EQ(w, got[0]);
  ASSERT_EQ(registry.snapshot().size(), 1u);
  EXPECT_EQ(registry.snapshot()[0].refs, std::size_t(kThreads));
  EXPECT_EQ(registry.snapshot()[0].bytes, 4096u);
  EXPECT_GE(registry.snapshot()[0].load_seconds, 0.09);
}

TEST(RegistryTest, ALoadFailureReachesEveryWaiterAndIsRetriedNextTime) {
  Loads loads;
  loads.load_time = 100ms;
  loads.failures_left = 1;
  Registry registry(loads.loader(), ttl(0ms));
  constexpr int kThreads = 8;
  std::vector<Status> outcomes(kThreads);
  std::latch start(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        outcomes[i] = registry.get(spec_for("missing.gguf")).status();
      });
    }
  }
  EXPECT_EQ(loads.calls, 1);
  for (const Status& s : outcomes) {
    EXPECT_EQ(s.code(), StatusCode::kNotFound);
    EXPECT_NE(s.message().find("missing.gguf"), std::string::npos);
  }
  EXPECT_TRUE(registry.snapshot().empty());
  Result<WeightsRef> retry = registry.get(spec_for("missing.gguf"));
  EXPECT_TRUE(retry.ok());
  EXPECT_EQ(loads.calls, 2);
}

TEST(RegistryTest, UnreferencedWeightsAreDroppedAtOnceWithAZeroTtl) {
  Loads loads;
  Registry registry(loads.loader(), ttl(0ms));
  Result<WeightsRef> a = registry.get(spec_for("a"));
  Result<WeightsRef> b = registry.get(spec_for("a"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(loads.alive, 1);
  a->reset();
  EXPECT_EQ(loads.alive, 1);  // b still holds it
  b->reset();
  EXPECT_EQ(loads.alive, 0);
  EXPECT_TRUE(registry.snapshot().empty());
}

TEST(RegistryTest, IdleWeightsStayForTheTtlAndAreReusedWithinIt) {
  Loads loads;
  Registry registry(loads.loader(), ttl(200ms));
  {
    Result<WeightsRef> a = registry.get(spec_for("a"));
    ASSERT_TRUE(a.ok());
  }
  EXPECT_EQ(registry.unload_idle(), 0u);  // idle, but not for 200 ms yet
  {
    Result<WeightsRef> again = registry.get(spec_for("a"));
    ASSERT_TRUE(again.ok());
  }
  EXPECT_EQ(loads.calls, 1);
  std::this_thread::sleep_for(250ms);
  registry.unload_idle();  // the janitor may have been first; either way it is gone
  EXPECT_TRUE(registry.snapshot().empty());
  EXPECT_EQ(loads.alive, 0);
}

TEST(RegistryTest, TheJanitorUnloadsIdleWeightsByItself) {
  Loads loads;
  Registry registry(loads.loader(), ttl(50ms));
  { ASSERT_TRUE(registry.get(spec_for("a")).ok()); }
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (loads.alive != 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(loads.alive, 0);
}

TEST(RegistryTest, DifferentKeysLoadSeparately) {
  Loads loads;
  Registry registry(loads.loader(), ttl(0ms));
  Result<WeightsRef> a = registry.get(spec_for("a"));
  Result<WeightsRef> b = registry.get(spec_for("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->shared(), b->shared());
  EXPECT_EQ(loads.calls, 2);
}

TEST(RegistryTest, AReferenceMayOutliveTheRegistry) {
  Loads loads;
  WeightsRef kept;
  {
    Registry registry(loads.loader(), ttl(0ms));
    Result<WeightsRef> a = registry.get(spec_for("a"));
    ASSERT_TRUE(a.ok());
    kept = std::move(*a);
  }
  EXPECT_EQ(loads.alive, 1);
  kept.reset();
  EXPECT_EQ(loads.alive, 0);
}

TEST(RegistryTest, AnUnknownBackendIsNamedInTheError) {
  Registry registry;
  ModelSpec spec = spec_for("x");
  spec.backend = "tensorflow";
  Status s = registry.get(spec).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("tensorflow"), std::string::npos);
}

}  // namespace
}  // namespace modelpool

namespace modelpool {
namespace {

TEST(RegistryTest, WeightsHoldTheirBytesAgainstTheBudgetWhileTheyLive) {
  Loads loads;  // each load is 4096 bytes
  RegistryOptions o = ttl(0ms);
  o.memory_budget = MemoryBudget::create(3 * 4096);
  Registry registry(loads.loader(), o);

  Result<WeightsRef> a = registry.get(spec_for("/a"));
  Result<WeightsRef> b = registry.get(spec_for("/b"));
  Result<WeightsRef> shared = registry.get(spec_for("/a"));  // the same weights: nothing more
  ASSERT_TRUE(a.ok() && b.ok() && shared.ok());
  EXPECT_EQ(o.memory_budget->snapshot().used, 2u * 4096);

  // An instance may keep the weights past the registry: so do the bytes.
  std::shared_ptr<const Weights> kept = b->shared();
  b->reset();
  EXPECT_EQ(o.memory_budget->snapshot().used, 2u * 4096);
  Result<MemoryReservation> instance = o.memory_budget->reserve(4096, "an instance");
  ASSERT_TRUE(instance.ok());

  // Full: a third file loads, is refused, freed, and not cached.
  Result<WeightsRef> c = registry.get(spec_for("/c"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kModelFailed);
  EXPECT_NE(c.status().message().find("memory budget: model 'm': its weights needs 4.0 KiB"),
            std::string::npos)
      << c.status().message();
  EXPECT_EQ(loads.alive, 2);

  kept.reset();
  EXPECT_EQ(o.memory_budget->snapshot().used, 2u * 4096);
  EXPECT_TRUE(registry.get(spec_for("/c")).ok());  // loads again once there is room
  EXPECT_EQ(loads.calls, 4);
}

}  // namespace
}  // namespace modelpool
