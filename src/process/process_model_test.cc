// The process executor with real worker processes: this test binary started
// as `worker` (src/testing/test_main.cc) serving the sim backend.
#include "process/process_model.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

namespace modelpool::process {
namespace {

using namespace std::chrono_literals;

std::set<std::string> dev_shm() {
  std::set<std::string> names;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) names.insert(e->d_name);
    closedir(d);
  }
  return names;
}

bool process_exists(int pid) { return access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0; }

ModelSpec sim(std::map<std::string, std::string> options) {
  ModelSpec spec;
  spec.name = "m";
  spec.backend = "sim";
  spec.options = std::move(options);
  return spec;
}

ServeOptions process_serve(std::size_t workers) {
  ServeOptions s;
  s.isolation = "process";
  s.min_instances = s.max_instances = workers;
  // Long enough that a worker on a loaded machine (a sanitizer build,
  // tests in parallel) is not taken for a hung one.
  s.process.heartbeat_interval = 250ms;
  s.process.hang_grace = 300ms;
  s.process.restart_backoff_max = 1000ms;
  s.process.arena_bytes = 4 << 20;
  return s;
}

std::unique_ptr<Model> open(const ModelSpec& spec, const ServeOptions& serve) {
  Registry registry(RegistryOptions{}, default_catalog());
  auto backend = default_catalog().find(spec.backend);
  EXPECT_TRUE(backend.ok());
  ProcessExecutor executor;
  auto model = executor.open(**backend, registry, spec, serve);
  EXPECT_TRUE(model.ok()) << model.status().message();
  return model.ok() ? std::move(*model) : nullptr;
}

Request echo_request(std::string bytes) {
  Request r;
  r.id = "1";
  r.inputs.push_back({"x", "UINT8", {static_cast<std::int64_t>(bytes.size())}, Buffer::adopt(std::move(bytes))});
  return r;
}

// Waits until `pred` or 5 s.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(ProcessModel, EchoesThroughTheArenaAndLeavesNothingBehind) {
  const std::set<std::string> shm_before = dev_shm();
  std::vector<int> pids;
  {
    auto model = open(sim({}), process_serve(2));
    ASSERT_TRUE(model);
    ModelStats stats = model->stats();
    ASSERT_TRUE(stats.workers);
    pids = stats.workers->pids;
    ASSERT_EQ(pids.size(), 2u);
    for (int pid : pids) {
      EXPECT_NE(pid, getpid());
      EXPECT_TRUE(process_exists(pid));
    }
    std::string payload(1 << 20, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
    CollectSink sink;
    Result<InferStats> r = model->infer(echo_request(payload), sink, kNoDeadline, {});
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(sink.outputs.size(), 1u);
    EXPECT_EQ(sink.outputs[0].name, "x");
    EXPECT_EQ(sink.outputs[0].datatype, "UINT8");
    EXPECT_TRUE(sink.outputs[0].data == payload);
    EXPECT_EQ(model->stats().workers->succeeded, 1u);
  }
  for (int pid : pids) EXPECT_FALSE(process_exists(pid)) << "worker " << pid << " outlived its model (or is a zombie)";
  EXPECT_EQ(dev_shm(), shm_before);
}

TEST(ProcessModel, APayloadLargerThanTheArenaIsAClearError) {
  auto model = open(sim({}), process_serve(1));
  ASSERT_TRUE(model);
  CollectSink sink;
  Result<InferStats> r = model->infer(echo_request(std::string(3 << 20, 'x')), sink, kNoDeadline, {});
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("input 'x' is 3145728 bytes"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("arena_mb"), std::string::npos);
  // The worker is fine: the next request works.
  EXPECT_TRUE(model->infer(echo_request("ok"), sink, kNoDeadline, {}).ok());
}

TEST(ProcessModel, AWorkerThatFailsToLoadNamesTheReason) {
  Registry registry(RegistryOptions{}, default_catalog());
  ProcessExecutor executor;
  auto backend = default_catalog().find("sim");
  ASSERT_TRUE(backend.ok());
  auto model = executor.open(**backend, registry, sim({{"fail_load", "true"}}), process_serve(1));
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("injected"), std::string::npos) << model.status().message();
}

TEST(ProcessModel, ARequestWhoseWorkerIsKilledRunsAgainOnAnother) {
  auto model = open(sim({{"service_ms", "400"}}), process_serve(2));
  ASSERT_TRUE(model);
  auto done = std::async(std::launch::async, [&] {
    CollectSink sink;
    Result<InferStats> r = model->infer(echo_request("payload"), sink, kNoDeadline, {});
    return std::make_pair(r.status(), sink.outputs.empty() ? std::string() : std::string(sink.outputs[0].data.view()));
  });
  ASSERT_TRUE(eventually([&] { return model->stats().pool.busy == 1; }));
  std::this_thread::sleep_for(50ms);
  const std::vector<int> pids = model->stats().workers->pids;
  // Kill the busy one: the one whose request is running. Killing both
  // order-independently: kill the first; if the request was not on it,
  // it is on the second, killed too.
  kill(pids[0], SIGKILL);
  auto [status, text] = done.get();
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(text, "payload");
  WorkerStats w = *model->stats().workers;
  EXPECT_EQ(w.crashes["SIGKILL"], 1u);
  EXPECT_LE(w.retried, 1u);
  EXPECT_EQ(w.failed_by_crash, 0u);
  // The pool is whole again, with a new process.
  ASSERT_TRUE(eventually([&] {
    ModelStats s = model->stats();
    return s.workers->pids.size() == 2 && s.pool.idle == 2 && s.workers->restarts == 1;
  })) << model->stats().workers->pids.size();
  EXPECT_FALSE(process_exists(pids[0]));
}

TEST(ProcessModel, QueuedRequestsSurviveACrashAndEachRetryIsCounted) {
  auto model = open(sim({{"service_ms", "300"}}), process_serve(1));
  ASSERT_TRUE(model);
  std::vector<std::future<Status>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      CollectSink sink;
      Result<InferStats> r = model->infer(echo_request(std::to_string(i)), sink, kNoDeadline, {});
      if (r.ok() && (sink.outputs.size() != 1 || sink.outputs[0].data != std::to_string(i))) {
        return internal_error("wrong answer");
      }
      return r.status();
    }));
  }
  ASSERT_TRUE(eventually([&] { return model->stats().pool.queue_length == 3; }));
  const int victim = model->stats().workers->pids.at(0);
  kill(victim, SIGKILL);
  for (auto& c : calls) EXPECT_TRUE(c.get().ok());
  WorkerStats w = *model->stats().workers;
  EXPECT_EQ(w.retried, 1u);
  EXPECT_EQ(w.succeeded, 4u);
  EXPECT_EQ(w.failed_by_crash, 0u);
}

TEST(ProcessModel, AStoppedWorkerMissesItsHeartbeatsAndIsReplaced) {
  ServeOptions serve = process_serve(1);
  serve.process.heartbeat_interval = 100ms;
  auto model = open(sim({{"service_ms", "200"}}), serve);
  ASSERT_TRUE(model);
  const int victim = model->stats().workers->pids.at(0);
  auto done = std::async(std::launch::async, [&] {
    CollectSink sink;
    return model->infer(echo_request("x"), sink, kNoDeadline, {}).status();
  });
  ASSERT_TRUE(eventually([&] { return model->stats().pool.busy == 1; }));
  kill(victim, SIGSTOP);
  EXPECT_TRUE(done.get().ok()) << "retried on the replacement";
  WorkerStats w = *model->stats().workers;
  EXPECT_GE(w.heartbeat_kills, 1u);
  EXPECT_NE(w.last_exit.find("missed heartbeats"), std::string::npos) << w.last_exit;
  EXPECT_FALSE(process_exists(victim));
}

TEST(ProcessModel, AHungRequestKillsItsWorkerAfterTheGraceAndFailsNamingIt) {
  // A run that ignores its stop: the worker cannot end it at the deadline.
  auto model = open(sim({{"hang_run_every", "1"}, {"hang_ignores_stop", "true"}}), process_serve(2));
  ASSERT_TRUE(model);
  CollectSink sink;
  const Clock::time_point start = Clock::now();
  Result<InferStats> r = model->infer(echo_request("x"), sink, Clock::now() + 200ms, {});
  ASSERT_EQ(r.status().code(), StatusCode::kModelFailed) << r.status().to_string();
  EXPECT_LT(Clock::now() - start, 5s);
  const std::string m = r.status().message();
  EXPECT_NE(m.find("model 'm'"), std::string::npos) << m;
  EXPECT_NE(m.find("SIGKILL"), std::string::npos) << m;
  EXPECT_NE(m.find("past its deadline"), std::string::npos) << m;
  EXPECT_NE(m.find("retried once"), std::string::npos) << m;
  WorkerStats w = *model->stats().workers;
  EXPECT_EQ(w.hang_kills, 2u) << "the first worker and the one it was retried on";
  EXPECT_EQ(w.retried, 1u);
  EXPECT_EQ(w.failed_by_crash, 1u);
}

TEST(ProcessModel, ARunPastItsDeadlineIsStoppedInItsWorkerWhichServesOn) {
  auto model = open(sim({{"hang_run_every", "2"}}), process_serve(1));
  ASSERT_TRUE(model);
  CollectSink sink;
  EXPECT_TRUE(model->infer(echo_request("a"), sink, Clock::now() + 5s, {}).ok());
  const Clock::time_point start = Clock::now();
  Result<InferStats> late = model->infer(echo_request("b"), sink, Clock::now() + 200ms, {});
  EXPECT_EQ(late.status().code(), StatusCode::kTimeout) << late.status().to_string();
  EXPECT_LT(Clock::now() - start, 2s);  // well before hang_grace would kill it
  EXPECT_TRUE(model->infer(echo_request("c"), sink, Clock::now() + 5s, {}).ok());
  WorkerStats w = *model->stats().workers;
  EXPECT_EQ(w.hang_kills, 0u);
  EXPECT_EQ(w.restarts, 0u);
}

TEST(ProcessModel, ACancelledRequestEndsAndItsWorkerServesOn) {
  auto model = open(sim({{"service_ms", "5000"}}), process_serve(1));
  ASSERT_TRUE(model);
  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] {
    CollectSink sink;
    return model->infer(echo_request("x"), sink, kNoDeadline, stop.get_token()).status();
  });
  ASSERT_TRUE(eventually([&] { return model->stats().pool.busy == 1; }));
  const int pid = model->stats().workers->pids.at(0);
  stop.request_stop();
  EXPECT_EQ(done.get().code(), StatusCode::kCancelled);
  EXPECT_EQ(model->stats().workers->pids.at(0), pid) << "a cancel is not a crash";
  EXPECT_TRUE(model->stats().workers->crashes.empty());
}

}  // namespace
}  // namespace modelpool::process

namespace modelpool::process {
namespace {

TEST(ProcessModel, ACrashLoopTurnsTheModelUnreadyThenLetsRequestsTryAgain) {
  ServeOptions serve = process_serve(1);
  serve.process.crash_loop_limit = 3;
  serve.process.restart_backoff_max = 400ms;
  // Every worker dies on its first request, before finishing it.
  auto model = open(sim({{"crash_after", "1"}, {"crash_signal", "SIGABRT"}}), serve);
  ASSERT_TRUE(model);
  EXPECT_TRUE(model->stats().unready_reason.empty());
  CollectSink sink;
  // Each request kills two workers (it is retried once).
  Status first = model->infer(echo_request("x"), sink, kNoDeadline, {}).status();
  EXPECT_EQ(first.code(), StatusCode::kModelFailed);
  EXPECT_NE(first.message().find("SIGABRT"), std::string::npos) << first.message();
  Status second = model->infer(echo_request("x"), sink, kNoDeadline, {}).status();
  EXPECT_EQ(second.code(), StatusCode::kModelFailed);
  ModelStats s = model->stats();
  EXPECT_NE(s.unready_reason.find("crash-looping"), std::string::npos) << s.unready_reason;
  EXPECT_NE(s.unready_reason.find("SIGABRT"), std::string::npos) << s.unready_reason;
  EXPECT_EQ(s.workers->crashes["SIGABRT"], 3u) << "the third death in a row opened the loop";
  // While unready, requests are refused at once, naming the loop.
  const Clock::time_point t = Clock::now();
  Status refused = model->infer(echo_request("x"), sink, kNoDeadline, {}).status();
  EXPECT_EQ(refused.code(), StatusCode::kModelFailed);
  EXPECT_NE(refused.message().find("crash-looping"), std::string::npos) << refused.message();
  EXPECT_LT(Clock::now() - t, 100ms);
  // After the cool-down a request is let through again (and crashes again).
  std::this_thread::sleep_for(500ms);
  Status again = model->infer(echo_request("x"), sink, kNoDeadline, {}).status();
  EXPECT_EQ(again.code(), StatusCode::kModelFailed);
  EXPECT_EQ(again.message().find("crash-looping"), std::string::npos) << again.message();
  EXPECT_GE(model->stats().workers->crashes["SIGABRT"], 4u);
}

TEST(ProcessModel, AModelThatRecoversFromACrashLoopIsReadyAgain) {
  ServeOptions serve = process_serve(1);
  serve.process.crash_loop_limit = 2;
  serve.process.restart_backoff_max = 300ms;
  auto model = open(sim({}), serve);
  ASSERT_TRUE(model);
  // Two workers in a row killed before they finished any request: a loop.
  for (std::uint64_t i = 1; i <= 2; ++i) {
    ASSERT_TRUE(eventually([&] { return model->stats().workers->pids.size() == 1; }));
    kill(model->stats().workers->pids.at(0), SIGKILL);
    ASSERT_TRUE(eventually([&] { return model->stats().workers->crashes["SIGKILL"] == i; }));
  }
  EXPECT_NE(model->stats().unready_reason.find("2 workers in a row"), std::string::npos)
      << model->stats().unready_reason;
  CollectSink sink;
  EXPECT_EQ(model->infer(echo_request("x"), sink, kNoDeadline, {}).status().code(), StatusCode::kModelFailed);
  // After the cool-down the next request runs, succeeds, and the model is
  // ready again.
  std::this_thread::sleep_for(400ms);
  Result<InferStats> r = model->infer(echo_request("x"), sink, kNoDeadline, {});
  EXPECT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(model->stats().unready_reason, "");
}

}  // namespace
}  // namespace modelpool::process
