#include "backends/sim/sim_backend.h"

#include <gtest/gtest.h>
#include <time.h>

#include <thread>
#include <vector>

#include "modelpool/memory.h"
#include "modelpool/pool.h"
#include "modelpool/registry.h"

namespace modelpool {
namespace {

using namespace std::chrono_literals;

ModelSpec sim(std::map<std::string, std::string> options) {
  ModelSpec s;
  s.name = "simmy";
  s.backend = "sim";
  s.options = std::move(options);
  return s;
}

std::unique_ptr<Instance> instance_of(SimBackend& backend, const ModelSpec& spec,
                                      std::shared_ptr<const Weights>* weights_out = nullptr) {
  auto weights = backend.load(spec, nullptr);
  EXPECT_TRUE(weights.ok()) << weights.status().to_string();
  auto inst = backend.instantiate(*weights, spec);
  EXPECT_TRUE(inst.ok()) << inst.status().to_string();
  if (weights_out) *weights_out = *weights;
  return std::move(*inst);
}

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

TEST(SimBackendTest, UnknownOrBadOptionsAreRefusedByName) {
  SimBackend backend;
  Status s = backend.load(sim({{"weight_mb", "10"}}), nullptr).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown option 'weight_mb'"), std::string::npos);
  s = backend.load(sim({{"service_ms", "-5"}}), nullptr).status();
  EXPECT_NE(s.message().find("'service_ms' = '-5'"), std::string::npos);
  s = backend.load(sim({{"service", "gpu"}}), nullptr).status();
  EXPECT_NE(s.message().find("one of sleep cpu"), std::string::npos);
}

TEST(SimBackendTest, RunEchoesInputsAfterTheServiceTime) {
  SimBackend backend;
  auto inst = instance_of(backend, sim({{"service_ms", "30"}}));
  Request r;
  r.inputs.push_back({"text", "BYTES", {1}, Buffer::copy("hello")});
  CollectSink sink;
  const auto start = Clock::now();
  ASSERT_TRUE(inst->run(r, sink, {}).ok());
  EXPECT_GE(Clock::now() - start, 30ms);
  ASSERT_EQ(sink.outputs.size(), 1u);
  EXPECT_EQ(sink.outputs[0].name, "text");
  EXPECT_EQ(sink.outputs[0].data, "hello");
}

TEST(SimBackendTest, OnlyAnInstantRunThatCannotHangIsQuick) {
  SimBackend backend;
  EXPECT_TRUE(instance_of(backend, sim({}))->quick());
  EXPECT_FALSE(instance_of(backend, sim({{"service_ms", "1"}}))->quick());
  EXPECT_FALSE(instance_of(backend, sim({{"service_ms", "1"}, {"service", "cpu"}}))->quick());
  EXPECT_FALSE(instance_of(backend, sim({{"hang_run_every", "5"}}))->quick());
}

TEST(SimBackendTest, CpuServiceBurnsCpuTime) {
  SimBackend backend;
  auto inst = instance_of(backend, sim({{"service_ms", "40"}, {"service", "cpu"}}));
  CollectSink sink;
  const double before = thread_cpu_s();
  ASSERT_TRUE(inst->run({}, sink, {}).ok());
  EXPECT_GE(thread_cpu_s() - before, 0.039);
}

TEST(SimBackendTest, AStoppedRunReturnsPromptly) {
  SimBackend backend;
  auto inst = instance_of(backend, sim({{"service_ms", "60000"}}));
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(20ms);
    stop.request_stop();
  });
  CollectSink sink;
  const auto start = Clock::now();
  EXPECT_EQ(inst->run({}, sink, stop.get_token()).code(), StatusCode::kCancelled);
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(SimBackendTest, InjectedFailuresHappenWhenAsked) {
  SimBackend backend;
  ModelSpec spec = sim({{"fail_create", "2"},
                        {"fail_run_every", "2"},
                        {"throw_run_every", "3"},
                        {"fail_check_every", "2"}});
  auto weights = backend.load(spec, nullptr);
  ASSERT_TRUE(weights.ok());
  EXPECT_EQ(backend.instantiate(*weights, spec).status().code(), StatusCode::kModelFailed);
  EXPECT_EQ(backend.instantiate(*weights, spec).status().code(), StatusCode::kModelFailed);
  auto inst = backend.instantiate(*weights, spec);
  ASSERT_TRUE(inst.ok());
  CollectSink sink;
  EXPECT_TRUE((*inst)->run({}, sink, {}).ok());
  EXPECT_EQ((*inst)->run({}, sink, {}).code(), StatusCode::kInternal);
  EXPECT_THROW((*inst)->run({}, sink, {}).ignore(), std::runtime_error);
  EXPECT_TRUE((*inst)->check().ok());
  EXPECT_FALSE((*inst)->check().ok());
  EXPECT_EQ(backend.load(sim({{"fail_load", "true"}}), nullptr).status().code(),
            StatusCode::kModelFailed);
}

TEST(SimBackendTest, AHungRunEndsWhenStopped) {
  SimBackend backend;
  auto inst = instance_of(backend, sim({{"hang_run_every", "1"}}));
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(20ms);
    stop.request_stop();
  });
  CollectSink sink;
  EXPECT_EQ(inst->run({}, sink, stop.get_token()).code(), StatusCode::kCancelled);
}

// Shared weights count once in PSS; copied weights count once per instance.
TEST(SimBackendTest, SharedWeightsAreCountedOnceInPss) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer's shadow memory grows with every touched page";
#endif
  auto pss_growth_mb = [](bool share) {
    SimBackend backend;
    ModelSpec spec = sim({{"weights_mb", "64"},
                          {"instance_mb", "4"},
                          {"share_weights", share ? "true" : "false"}});
    const double before = static_cast<double>(*read_pss_bytes());
    auto weights = backend.load(spec, nullptr);
    std::vector<std::unique_ptr<Instance>> instances;
    for (int i = 0; i < 4; ++i) instances.push_back(std::move(backend.instantiate(*weights, spec).value()));
    const double after = static_cast<double>(*read_pss_bytes());
    return (after - before) / (1024.0 * 1024.0);
  };
  const double shared = pss_growth_mb(true);    // expect ~64 + 4 x 4 = 80
  const double copied = pss_growth_mb(false);   // expect ~4 x (64 + 4) = 272
  EXPECT_GT(shared, 70);
  EXPECT_LT(shared, 110);
  EXPECT_GT(copied, 250);
}

TEST(SimBackendTest, BytesAreReportedForWeightsAndInstances) {
  SimBackend backend;
  std::shared_ptr<const Weights> weights;
  auto inst = instance_of(backend, sim({{"weights_mb", "2"}, {"instance_mb", "1"}}), &weights);
  EXPECT_EQ(weights->bytes(), 2u << 20);
  EXPECT_EQ(inst->bytes(), 1u << 20);
  auto copy = instance_of(backend, sim({{"weights_mb", "2"}, {"instance_mb", "1"}, {"share_weights", "false"}}), &weights);
  EXPECT_EQ(weights->bytes(), 0u);
  EXPECT_EQ(copy->bytes(), 3u << 20);
}

// End to end through the registry and a pool: a run that throws or fails is
// the caller's signal to mark the instance broken; the pool replaces it.
TEST(SimBackendTest, APoolOfSimInstancesHealsAfterFailedRuns) {
  Registry registry;
  ModelSpec spec = sim({{"fail_run_every", "3"}});
  auto weights = registry.get(spec);
  ASSERT_TRUE(weights.ok());
  auto backend = default_catalog().find("sim");
  ASSERT_TRUE(backend.ok());
  PoolOptions o;
  o.min_instances = o.max_instances = 2;
  auto shared = weights->shared();
  auto pool = Pool::create([&, shared] { return (*backend)->instantiate(shared, spec); }, o);
  ASSERT_TRUE(pool.ok());
  int failures = 0;
  for (int i = 0; i < 30; ++i) {
    Result<Lease> lease = (*pool)->acquire(Clock::now() + 10s);
    ASSERT_TRUE(lease.ok()) << lease.status().to_string();
    CollectSink sink;
    Status s = (*lease)->run({}, sink, {});
    if (s.code() == StatusCode::kInternal) {
      ++failures;
      lease->mark_broken(s.message());
    }
  }
  EXPECT_EQ(failures, 10);
  const auto until = Clock::now() + 10s;
  while ((*pool)->snapshot().replaced < 10 && Clock::now() < until) std::this_thread::sleep_for(5ms);
  EXPECT_EQ((*pool)->snapshot().replaced, 10u);
}

// A payload travels from the caller through a leased instance to the sink
// without a copy: the echo's output views the very bytes the caller put in.
TEST(SimBackendTest, ALargeTensorReachesTheSinkWithoutACopy) {
  SimBackend backend;
  const ModelSpec spec = sim({});
  auto weights = backend.load(spec, nullptr);
  ASSERT_TRUE(weights.ok());
  PoolOptions o;
  o.min_instances = o.max_instances = 1;
  auto pool = Pool::create([&, shared = *weights] { return backend.instantiate(shared, spec); }, o);
  ASSERT_TRUE(pool.ok());

  constexpr std::size_t kBytes = 8u << 20;
  std::string bytes(kBytes, '\0');
  for (std::size_t i = 0; i < kBytes; ++i) bytes[i] = static_cast<char>(i * 7);
  const Buffer payload = Buffer::adopt(std::move(bytes));
  const char* const put_in = payload.data();
  Request r;
  r.inputs.push_back({"x", "UINT8", {static_cast<std::int64_t>(kBytes)}, payload});

  Result<Lease> lease = (*pool)->acquire(Clock::now() + 10s);
  ASSERT_TRUE(lease.ok()) << lease.status().to_string();
  CollectSink sink;
  ASSERT_TRUE((*lease)->run(r, sink, {}).ok());
  ASSERT_EQ(sink.outputs.size(), 1u);
  const Tensor& out = sink.outputs[0];
  EXPECT_EQ(out.data.data(), put_in);  // the same bytes, not equal ones
  EXPECT_EQ(out.data.size(), kBytes);
  EXPECT_EQ(out.data.owner(), payload.owner());
  EXPECT_EQ(out.shape, r.inputs[0].shape);
}

}  // namespace
}  // namespace modelpool
