// WorkerClient: the server's side of one worker process.
//
// start() spawns the worker (posix_spawn, in a process group of its own so
// a terminal's Ctrl-C reaches only the server), hands it the model to open
// and a fresh arena (arena.h) over the control channel (channel.h), and
// waits until it answers kReady, checking that the answer comes from the
// pid it started, as its own user. Then a reader thread per worker:
//
//   * routes replies and streamed text to the calls waiting for them;
//   * notices death at once: it polls a pidfd of the worker, which becomes
//     readable when the process ends, reaps it (no zombie) and fails every
//     call in flight with kModelFailed naming how it ended;
//   * pings every heartbeat_interval and kills (SIGKILL) a worker silent for
//     4 intervals (stopped, or wedged so badly it cannot answer);
//   * kills a worker whose call runs hang_grace past its deadline, or past
//     the moment it was cancelled (an engine that ignores its stop token).
//
// Calls: inputs are written once into the arena and referenced by offset;
// outputs come back by offset and reach the caller's Sink as Buffers that
// view the arena in place (the block goes back to the worker when the last
// Buffer viewing it is dropped). An output that is an input echoed back
// views the input's block: no byte is copied in either direction.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "modelpool/generation.h"
#include "modelpool/model.h"
#include "process/arena.h"
#include "process/channel.h"
#include "process/wire.h"

namespace modelpool::process {

// The program a worker runs: `executable args... --fd 3 --parent PID`.
struct WorkerLaunch {
  std::string executable;
  std::vector<std::string> args{"worker"};
};

// How a worker process ended.
struct WorkerExit {
  pid_t pid = 0;
  int signal = 0;      // killed by this signal; 0 when it exited
  int code = 0;        // its exit code when it exited
  std::string cause;   // why the server killed it, when it did
  bool asked = false;  // the server stopped it on purpose (shutdown, shrink)

  // "SIGKILL" or "exit 3": the key of WorkerStats::crashes.
  std::string how() const;
  // "worker 1234 was killed by signal 11 (SIGSEGV)" [+ " after it missed
  // heartbeats for 1.0 s"].
  std::string describe() const;
};

// What happened to one call, for the retry rule.
struct CallTrace {
  bool sent = false;      // it reached the worker's channel
  bool crashed = false;   // the worker died (or was already gone) before answering
  bool streamed = false;  // text had reached the caller's callback by then
};

class WorkerClient : public std::enable_shared_from_this<WorkerClient> {
 public:
  using ExitFn = std::function<void(const WorkerClient& worker, const WorkerExit& exit)>;

  // Starts a worker serving `spec` with `serve` (its own, single-instance
  // settings) and waits until it is ready. `on_exit` is called once, from
  // the reader thread, when the process has ended and been reaped.
  // Errors: kModelFailed when the worker cannot load the model (its
  // status's message) or dies while loading (how it ended).
  static Result<std::shared_ptr<WorkerClient>> start(const WorkerLaunch& launch, const ModelSpec& spec,
                                                     const ServeOptions& serve, ExitFn on_exit);
  // Kills the worker if it still runs and waits for it to be reaped.
  ~WorkerClient();
  WorkerClient(const WorkerClient&) = delete;
  WorkerClient& operator=(const WorkerClient&) = delete;

  pid_t pid() const { return pid_; }
  bool alive() const { return !dead_.load(std::memory_order_acquire); }
  const WorkerInfo& info() const { return info_; }
  // Calls the worker finished without dying.
  std::uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }

  // Model::infer, run by the worker. `trace` says whether it crashed.
  Result<InferStats> infer(const Request& request, Sink& sink, Deadline deadline, std::stop_token stop,
                           CallTrace* trace);
  // Model::generate, run by the worker; on_text and on_logprobs are called
  // on the reader thread.
  Result<GenerationResult> generate(const GenerationRequest& request, Deadline deadline, std::stop_token stop,
                                    CallTrace* trace);
  Result<std::size_t> count_tokens(std::string_view text);

  // Kills the worker now (SIGKILL), recording `cause`.
  void kill(std::string cause);
  // Asks the worker to finish and exit; kills it after `timeout`. Returns
  // once it has been reaped.
  void stop(std::chrono::milliseconds timeout);
  // stop() in two halves, so that many workers stop in parallel: ask, then
  // wait until `deadline` (killing it then) and for it to be reaped.
  void ask_to_stop();
  void wait_stopped(Clock::time_point deadline);

 private:
  struct Call;
  WorkerClient(pid_t pid, int pidfd, Channel channel, std::shared_ptr<SharedArena> arena,
               ServeOptions::Process settings, ExitFn on_exit);

  std::shared_ptr<Call> new_call();
  // Sends and waits for the reply; cancels on `stop`. The reply message, or
  // the error (a crash fills `trace`).
  Result<std::string> finish_call(const std::shared_ptr<Call>& call, const std::string& message,
                                  std::stop_token stop, CallTrace* trace);
  void read_loop();
  void dispatch(Received& message);
  void housekeeping(Clock::time_point now);
  void reap();
  void send_release(std::uint64_t offset);

  const pid_t pid_;
  const int pidfd_;
  Channel channel_;
  const std::shared_ptr<SharedArena> arena_;
  const std::shared_ptr<ArenaAllocator> inputs_;
  const ServeOptions::Process settings_;
  const ExitFn on_exit_;
  WorkerInfo info_;

  std::atomic<bool> dead_{false};
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::int64_t> last_heard_ns_{0};
  Clock::time_point last_ping_{};

  mutable std::mutex mu_;
  std::condition_variable exited_cv_;
  std::map<std::uint64_t, std::shared_ptr<Call>> calls_;  // guarded by mu_
  std::uint64_t next_call_ = 1;                           // guarded by mu_
  std::string kill_cause_;                                // guarded by mu_
  bool asked_to_stop_ = false;                            // guarded by mu_
  bool killed_stopping_ = false;                          // guarded by mu_: stop() timed out
  std::thread reader_;
};

// The executable of this process (/proc/self/exe), for WorkerLaunch.
std::string self_executable();

}  // namespace modelpool::process
