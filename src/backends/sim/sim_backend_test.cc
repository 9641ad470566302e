#include "backends/sim/sim_backend.h"

#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
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
  EXPECT_FALSE(instance_of(backend, sim({{"leak_mb_per_run", "1"}}))->quick());
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

TEST(SimBackendTest, ProcessFaultOptionsAreReadAndCheckedAgainstTheirRanges) {
  auto c = SimConfig::from_options(sim({{"crash_after", "3"},
                                        {"crash_probability", "0.25"},
                                        {"crash_seed", "42"},
                                        {"crash_signal", "SIGKILL"},
                                        {"crash_streamed", "true"},
                                        {"leak_mb_per_run", "8"},
                                        {"hang_ignores_stop", "true"}}));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->crash_after, 3);
  EXPECT_EQ(c->crash_probability, 0.25);
  EXPECT_EQ(c->crash_seed, 42u);
  EXPECT_EQ(c->crash_signal, SIGKILL);
  EXPECT_TRUE(c->crash_streamed);
  EXPECT_EQ(c->leak_bytes_per_run, 8u << 20);
  EXPECT_TRUE(c->hang_ignores_stop);

  auto defaults = SimConfig::from_options(sim({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->crash_after, 0);
  EXPECT_EQ(defaults->crash_probability, 0);
  EXPECT_EQ(defaults->crash_signal, SIGSEGV);
  EXPECT_FALSE(defaults->crash_streamed);
  EXPECT_EQ(defaults->leak_bytes_per_run, 0u);
  EXPECT_FALSE(defaults->hang_ignores_stop);
  EXPECT_EQ(defaults->needs_process_isolation(), "");
  for (const char* sig : {"SIGSEGV", "SIGABRT", "SIGBUS"}) {
    EXPECT_TRUE(SimConfig::from_options(sim({{"crash_signal", sig}})).ok()) << sig;
  }

  auto refused = [](std::map<std::string, std::string> options) {
    return SimConfig::from_options(sim(std::move(options))).status().message();
  };
  EXPECT_NE(refused({{"crash_after", "-1"}}).find("'crash_after' = '-1': expected an integer >= 0"),
            std::string::npos);
  EXPECT_NE(refused({{"crash_probability", "1.5"}})
                .find("'crash_probability' = '1.5': expected a number in [0, 1]"),
            std::string::npos);
  EXPECT_NE(refused({{"crash_probability", "-0.1"}}).find("'crash_probability'"),
            std::string::npos);
  EXPECT_NE(refused({{"crash_seed", "-3"}}).find("'crash_seed' = '-3'"), std::string::npos);
  EXPECT_NE(refused({{"leak_mb_per_run", "-1"}}).find("'leak_mb_per_run' = '-1'"),
            std::string::npos);
  EXPECT_NE(refused({{"crash_signal", "SIGTERM"}})
                .find("'crash_signal' = 'SIGTERM': expected one of SIGSEGV SIGABRT SIGKILL SIGBUS"),
            std::string::npos);
  EXPECT_NE(refused({{"crash_streamed", "yes"}}).find("'crash_streamed' = 'yes'"),
            std::string::npos);
  EXPECT_NE(refused({{"hang_ignores_stop", "1"}}).find("'hang_ignores_stop' = '1'"),
            std::string::npos);
}

// A crash kills the whole process: in the server's own it would take every
// model down, so only a model in worker processes may ask for one.
TEST(SimBackendTest, FaultsThatKillTheProcessNeedProcessIsolation) {
  SimBackend backend;
  ServeOptions in_thread;
  ASSERT_EQ(in_thread.isolation, "thread");
  ServeOptions in_process;
  in_process.isolation = "process";

  Status s = backend.check(sim({{"crash_after", "1"}}), in_thread);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "sim option 'crash_after' kills the process it runs in: it needs isolation = "
            "\"process\"");
  s = backend.check(sim({{"crash_probability", "0.01"}}), in_thread);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'crash_probability' kills the process"), std::string::npos);
  s = backend.check(sim({{"hang_run_every", "3"}, {"hang_ignores_stop", "true"}}), in_thread);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'hang_ignores_stop'"), std::string::npos);
  EXPECT_NE(s.message().find("it needs isolation = \"process\""), std::string::npos);

  for (const auto& options : std::vector<std::map<std::string, std::string>>{
           {{"crash_after", "1"}},
           {{"crash_probability", "1"}, {"crash_seed", "9"}, {"crash_signal", "SIGKILL"}},
           {{"crash_after", "2"}, {"crash_streamed", "true"}},
           {{"hang_run_every", "3"}, {"hang_ignores_stop", "true"}}}) {
    EXPECT_TRUE(backend.check(sim(options), in_process).ok()) << options.begin()->first;
  }
  // What the server survives in its own process stays allowed there, as do
  // crash settings that crash nothing.
  EXPECT_TRUE(backend
                  .check(sim({{"leak_mb_per_run", "4"},
                              {"hang_run_every", "3"},
                              {"crash_signal", "SIGBUS"},
                              {"crash_streamed", "true"}}),
                         in_thread)
                  .ok());
  // The schema comes first.
  EXPECT_NE(backend.check(sim({{"crash_after", "x"}}), in_process).message().find("'crash_after'"),
            std::string::npos);
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size_pages = 0;
  std::size_t resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// A leaking engine: each run's memory stays resident, unreported by bytes(),
// until the weights go.
TEST(SimBackendTest, ALeakingModelGrowsResidentMemoryWithEveryRun) {
  SimBackend backend;
  std::shared_ptr<const Weights> weights;
  auto inst = instance_of(backend, sim({{"leak_mb_per_run", "32"}}), &weights);
  const double before = static_cast<double>(resident_bytes());
  CollectSink sink;
  ASSERT_TRUE(inst->run({}, sink, {}).ok());
  ASSERT_TRUE(inst->run({}, sink, {}).ok());
  const double after = static_cast<double>(resident_bytes());
  EXPECT_GT((after - before) / (1024.0 * 1024.0), 60);  // 2 x 32 MiB
  EXPECT_EQ(weights->bytes(), 0u);
  EXPECT_EQ(inst->bytes(), 0u);
  inst.reset();
  weights.reset();
  EXPECT_LT(static_cast<double>(resident_bytes()), after - 60.0 * 1024 * 1024);
}

// Death tests: each statement runs in a child process, whose stderr the
// expectation matches.

Request one_input() {
  Request r;
  r.inputs.push_back({"text", "BYTES", {1}, Buffer::copy("hello")});
  return r;
}

// Says on stderr what it was given: the only way out of a death test.
class StderrSink final : public Sink {
 public:
  bool write(Tensor output) override {
    std::fprintf(stderr, "sink saw '%s'\n", output.name.c_str());
    std::fflush(stderr);
    return true;
  }
};

// Must never be given anything: exits with code 3 if it is, which no
// KilledBySignal matches.
class NoOutputSink final : public Sink {
 public:
  bool write(Tensor) override { std::_Exit(3); }
};

// Runs `spec` on `instances` instances in turn, saying on stderr which runs
// returned; exits with code 0 if none killed it in `runs` runs.
void run_until_killed(const ModelSpec& spec, int instances, int runs, Sink& sink) {
  SimBackend backend;
  auto weights = backend.load(spec, nullptr);
  if (!weights.ok()) std::_Exit(4);
  std::vector<std::unique_ptr<Instance>> pool;
  for (int i = 0; i < instances; ++i) {
    pool.push_back(std::move(backend.instantiate(*weights, spec).value()));
  }
  for (int n = 1; n <= runs; ++n) {
    Status s = pool[static_cast<std::size_t>(n - 1) % pool.size()]->run(one_input(), sink, {});
    std::fprintf(stderr, "run %d returned %s\n", n, s.ok() ? "ok" : s.to_string().c_str());
    std::fflush(stderr);
  }
  std::_Exit(0);
}

TEST(SimBackendDeathTest, TheNthRunAcrossInstancesKillsTheProcessBeforeAnyOutput) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  NoOutputSink no_output;
  // Runs 1 and 2 on two instances; run 2 dies. Run 1 echoes into a sink
  // that keeps it; run 2's sink ends the test if it is given anything.
  CollectSink first;
  EXPECT_EXIT(
      {
        SimBackend backend;
        const ModelSpec spec = sim({{"crash_after", "2"}});
        auto weights = backend.load(spec, nullptr);
        auto a = backend.instantiate(*weights, spec);
        auto b = backend.instantiate(*weights, spec);
        if (!(*a)->run(one_input(), first, {}).ok() || first.outputs.size() != 1) std::_Exit(5);
        std::fprintf(stderr, "run 1 ok\n");
        std::fflush(stderr);
        (void)(*b)->run(one_input(), no_output, {});
        std::_Exit(0);
      },
      testing::KilledBySignal(SIGSEGV), "run 1 ok\n$");
  // SIGSEGV by default; the others as asked.
  EXPECT_EXIT(
      run_until_killed(sim({{"crash_after", "1"}, {"crash_signal", "SIGABRT"}}), 1, 5, no_output),
      testing::KilledBySignal(SIGABRT), "^$");
  EXPECT_EXIT(
      run_until_killed(sim({{"crash_after", "1"}, {"crash_signal", "SIGBUS"}}), 1, 5, no_output),
      testing::KilledBySignal(SIGBUS), "^$");
}

TEST(SimBackendDeathTest, AStreamedCrashWritesTheOutputsFirst) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  StderrSink sink;
  EXPECT_EXIT(run_until_killed(sim({{"crash_after", "1"}, {"crash_streamed", "true"}}), 1, 5, sink),
              testing::KilledBySignal(SIGSEGV), "^sink saw 'text'\n$");
}

TEST(SimBackendDeathTest, ACrashProbabilityKillsSomeRun) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  NoOutputSink no_output;
  // Probability 1: the first run.
  EXPECT_EXIT(run_until_killed(sim({{"crash_probability", "1"}, {"crash_signal", "SIGKILL"}}), 1, 5,
                               no_output),
              testing::KilledBySignal(SIGKILL), "^$");
  // One half, a random seed: surviving 64 runs has odds of 2^-64. The runs
  // that live echo into a sink that drops it.
  struct Quiet final : Sink {
    bool write(Tensor) override { return true; }
  } quiet;
  EXPECT_EXIT(run_until_killed(sim({{"crash_probability", "0.5"}}), 2, 64, quiet),
              testing::KilledBySignal(SIGSEGV), "");
}

// The anonymous part of this process's PSS (Pss_Anon in smaps_rollup), in
// bytes: where the sim's weights live. The file-backed part moves whenever
// another process maps the same libraries (a parallel test run starting or
// ending shares the test binary's pages differently), which is not what
// this test is about.
double pss_anon_bytes() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string key;
  double kb = 0;
  while (in >> key) {
    if (key == "Pss_Anon:" && in >> kb) return kb * 1024;
    in.ignore(1 << 20, '\n');
  }
  ADD_FAILURE() << "no Pss_Anon in /proc/self/smaps_rollup";
  return 0;
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
    const double before = pss_anon_bytes();
    auto weights = backend.load(spec, nullptr);
    std::vector<std::unique_ptr<Instance>> instances;
    for (int i = 0; i < 4; ++i) instances.push_back(std::move(backend.instantiate(*weights, spec).value()));
    const double after = pss_anon_bytes();
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

  // A pooled model reports both in its stats (the metrics' memory figures).
  Registry registry;
  ServeOptions serve;
  Result<std::unique_ptr<Model>> model =
      open_pooled_model(backend, registry, sim({{"weights_mb", "2"}, {"instance_mb", "1"}}), serve);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->stats().weights_bytes, 2u << 20);
  EXPECT_EQ((*model)->stats().instance_bytes, 1u << 20);
  (*model)->shutdown(std::chrono::seconds(5)).ignore();
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
