#include "process/worker_client.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

extern char** environ;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace modelpool::process {
namespace {

constexpr int kWorkerFd = 3;
constexpr std::chrono::seconds kStartTimeout{600};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_signal(int pidfd, int sig) { return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

std::string seconds_text(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

// Reaps the process behind `pidfd`: how it ended.
WorkerExit reap_exit(pid_t pid, int pidfd) {
  WorkerExit exit;
  exit.pid = pid;
  siginfo_t info{};
  int r;
  do {
    r = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    exit.code = -1;
    exit.cause = errno_text("waitid");
  } else if (info.si_code == CLD_EXITED) {
    exit.code = info.si_status;
  } else {
    exit.signal = info.si_status;
  }
  return exit;
}

std::int64_t remaining_ns(Deadline deadline) {
  if (deadline == kNoDeadline) return -1;
  return std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count());
}

}  // namespace

std::string WorkerExit::how() const {
  if (signal == 0) return "exit " + std::to_string(code);
  const char* abbrev = sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

std::string WorkerExit::describe() const {
  std::string out = "worker " + std::to_string(pid) +
                    (signal != 0 ? " was killed by signal " + std::to_string(signal) + " (" + how() + ")"
                                 : " exited with status " + std::to_string(code));
  if (!cause.empty()) out += " after it " + cause;
  return out;
}

std::string self_executable() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(path, static_cast<std::size_t>(n));
}

struct WorkerClient::Call {
  std::uint64_t id = 0;
  Deadline deadline = kNoDeadline;
  TextCallback on_text;
  LogprobCallback on_logprobs;
  std::vector<std::shared_ptr<const void>> blocks;  // input blocks, by offset order
  std::vector<std::pair<std::uint64_t, std::uint64_t>> block_ranges;
  std::atomic<bool> streamed{false};
  std::atomic<std::int64_t> cancelled_at_ns{0};
  // Guarded by the client's mu_:
  bool done = false;
  bool crashed = false;
  std::string reply;
  std::string crash;
  std::condition_variable cv;
};

Result<std::shared_ptr<WorkerClient>> WorkerClient::start(const WorkerLaunch& launch, const ModelSpec& spec,
                                                          const ServeOptions& serve, ExitFn on_exit) {
  auto arena = SharedArena::create(serve.process.arena_bytes);
  if (!arena.ok()) return arena.status();
  auto channels = Channel::pair();
  if (!channels.ok()) return channels.status();
  auto& [server_end, worker_end] = *channels;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int child_fd = worker_end.fd();
  if (child_fd == kWorkerFd) {  // dup2 onto itself would keep close-on-exec
    child_fd = fcntl(worker_end.fd(), F_DUPFD_CLOEXEC, kWorkerFd + 1);
  }
  posix_spawn_file_actions_adddup2(&actions, child_fd, kWorkerFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, kWorkerFd + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  const std::string parent = std::to_string(getpid());
  const std::string fd_text = std::to_string(kWorkerFd);
  std::vector<std::string> args{launch.executable};
  args.insert(args.end(), launch.args.begin(), launch.args.end());
  args.insert(args.end(), {"--fd", fd_text, "--parent", parent});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, launch.executable.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (child_fd != worker_end.fd()) close(child_fd);
  worker_end = Channel();  // the worker has its copy
  if (spawned != 0) {
    return model_failed_error("cannot start worker '" + launch.executable + "': " + std::strerror(spawned));
  }
  const int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    const std::string e = errno_text("pidfd_open");
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return internal_error(e);
  }
  // Failing from here on: kill and reap before returning.
  auto fail = [&](std::string why) -> Status {
    pidfd_signal(pidfd, SIGKILL);
    WorkerExit e = reap_exit(pid, pidfd);
    close(pidfd);
    return model_failed_error(why.empty() ? e.describe() + " while loading model '" + spec.name + "'" : why);
  };

  WireWriter hello({.type = MessageType::kHello});
  put(hello, spec);
  put(hello, serve);
  if (Status s = server_end.send(hello.bytes(), (*arena)->fd()); !s.ok()) return fail("");

  // Wait for kReady, watching for the worker's death.
  const Clock::time_point give_up = Clock::now() + kStartTimeout;
  for (;;) {
    pollfd fds[2] = {{server_end.fd(), POLLIN, 0}, {pidfd, POLLIN, 0}};
    const int n = poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR) return fail(errno_text("poll"));
    if (Clock::now() > give_up) return fail("worker did not load model '" + spec.name + "' within 600 s");
    if (n <= 0) continue;
    if ((fds[0].revents & POLLIN) == 0) {
      if ((fds[1].revents & POLLIN) != 0 || (fds[0].revents & (POLLHUP | POLLERR)) != 0) return fail("");
      continue;
    }
    Result<Received> got = server_end.receive();
    if (!got.ok()) return fail("");
    if (got->fd >= 0) close(got->fd);
    if (!got->peer || got->peer->pid != pid || got->peer->uid != geteuid()) {
      return fail("refused a worker message that did not come from worker " + std::to_string(pid));
    }
    const MessageType type = WireReader(got->bytes).header().type;
    if (type == MessageType::kLoadFailed) {
      Status why;
      if (Status s = read_load_failed(got->bytes, &why); !s.ok()) return fail(s.message());
      fail("").ignore();
      return model_failed_error(why.message());
    }
    if (type != MessageType::kReady) return fail("worker protocol: expected ready");
    WorkerInfo info;
    if (Status s = read_ready(got->bytes, &info); !s.ok()) return fail(s.message());
    std::shared_ptr<WorkerClient> client(
        new WorkerClient(pid, pidfd, std::move(server_end), std::move(*arena), serve.process, std::move(on_exit)));
    client->info_ = std::move(info);
    client->reader_ = std::thread([c = client.get()] { c->read_loop(); });
    return client;
  }
}

WorkerClient::WorkerClient(pid_t pid, int pidfd, Channel channel, std::shared_ptr<SharedArena> arena,
                           ServeOptions::Process settings, ExitFn on_exit)
    : pid_(pid), pidfd_(pidfd), channel_(std::move(channel)), arena_(std::move(arena)),
      inputs_(std::make_shared<ArenaAllocator>(0, arena_->half())), settings_(settings),
      on_exit_(std::move(on_exit)) {
  last_heard_ns_ = now_ns();
  last_ping_ = Clock::now();
}

WorkerClient::~WorkerClient() {
  if (alive()) kill("");
  if (reader_.joinable()) {
    if (reader_.get_id() == std::this_thread::get_id()) {
      reader_.detach();
    } else {
      reader_.join();
    }
  }
  close(pidfd_);
}

void WorkerClient::kill(std::string cause) {
  {
    std::lock_guard lock(mu_);
    if (kill_cause_.empty()) kill_cause_ = std::move(cause);
  }
  pidfd_signal(pidfd_, SIGKILL);
}

void WorkerClient::stop(std::chrono::milliseconds timeout) {
  ask_to_stop();
  wait_stopped(Clock::now() + timeout);
}

void WorkerClient::ask_to_stop() {
  {
    std::lock_guard lock(mu_);
    asked_to_stop_ = true;
  }
  channel_.send(WireWriter({.type = MessageType::kShutdown}).bytes()).ignore();
}

void WorkerClient::wait_stopped(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (!exited_cv_.wait_until(lock, deadline, [&] { return !alive(); })) {
    killed_stopping_ = true;
    lock.unlock();
    pidfd_signal(pidfd_, SIGKILL);
    lock.lock();
    exited_cv_.wait(lock, [&] { return !alive(); });
  }
}

void WorkerClient::read_loop() {
  const auto tick = std::max<std::chrono::milliseconds>(settings_.heartbeat_interval / 2, std::chrono::milliseconds(1));
  for (;;) {
    pollfd fds[2] = {{channel_.fd(), POLLIN, 0}, {pidfd_, POLLIN, 0}};
    const int n = poll(fds, 2, static_cast<int>(tick.count()));
    bool gone = n > 0 && (fds[1].revents & POLLIN) != 0;
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      Result<Received> got = channel_.receive();
      if (got.ok()) {
        last_heard_ns_.store(now_ns(), std::memory_order_relaxed);
        dispatch(*got);
        continue;  // what it sent before it died is read first
      }
      gone = true;  // end of stream or a broken channel: it is gone for us
    } else if (n > 0 && (fds[0].revents & (POLLHUP | POLLERR)) != 0) {
      gone = true;
    }
    if (gone) {
      pidfd_signal(pidfd_, SIGKILL);  // no-op when it already ended
      return reap();
    }
    housekeeping(Clock::now());
  }
}

void WorkerClient::dispatch(Received& message) {
  if (message.fd >= 0) close(message.fd);
  WireReader r(message.bytes);
  const MessageHeader h = r.header();
  if (!r.ok()) return kill("sent a malformed message");
  switch (h.type) {
    case MessageType::kPong: return;
    case MessageType::kText: {
      std::shared_ptr<Call> call;
      {
        std::lock_guard lock(mu_);
        if (auto it = calls_.find(h.call); it != calls_.end()) call = it->second;
      }
      if (!call) return;
      TextMessage text;
      if (!read_text(message.bytes, &text).ok()) return kill("sent a malformed message");
      if (!text.is_logprobs) {
        call->streamed.store(true, std::memory_order_release);
        if (call->on_text && !call->on_text(text.piece) && call->cancelled_at_ns.load() == 0) {
          call->cancelled_at_ns.store(now_ns());
          WireWriter cancel({.type = MessageType::kCancel, .call = h.call});
          channel_.send(cancel.bytes()).ignore();
        }
      } else if (call->on_logprobs) {
        call->on_logprobs(text.logprobs);
      }
      return;
    }
    case MessageType::kDone: {
      std::lock_guard lock(mu_);
      auto it = calls_.find(h.call);
      if (it == calls_.end()) return;
      it->second->reply = std::move(message.bytes);
      it->second->done = true;
      it->second->cv.notify_all();
      calls_.erase(it);
      completed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    default: return kill("sent an unexpected message");
  }
}

void WorkerClient::housekeeping(Clock::time_point now) {
  const auto silent = std::chrono::nanoseconds(now_ns() - last_heard_ns_.load(std::memory_order_relaxed));
  if (silent > 4 * settings_.heartbeat_interval) {
    return kill("missed heartbeats for " + seconds_text(silent));
  }
  if (now - last_ping_ >= settings_.heartbeat_interval) {
    last_ping_ = now;
    channel_.send(WireWriter({.type = MessageType::kPing}).bytes()).ignore();
  }
  std::lock_guard lock(mu_);
  for (const auto& [id, call] : calls_) {
    if (call->deadline != kNoDeadline && now > call->deadline + settings_.hang_grace) {
      pidfd_signal(pidfd_, SIGKILL);
      if (kill_cause_.empty()) kill_cause_ = "ran a request " + seconds_text(now - call->deadline) + " past its deadline";
      return;
    }
    const std::int64_t cancelled = call->cancelled_at_ns.load();
    if (cancelled != 0 && now_ns() - cancelled > std::chrono::nanoseconds(settings_.hang_grace).count()) {
      pidfd_signal(pidfd_, SIGKILL);
      if (kill_cause_.empty()) {
        kill_cause_ = "did not stop a request within " + seconds_text(settings_.hang_grace) + " of its cancel";
      }
      return;
    }
  }
}

void WorkerClient::reap() {
  // Whoever drops the last reference while on_exit_ runs must not destroy
  // this object under it: the last one may be ours, dropped on return.
  const std::shared_ptr<WorkerClient> keep = weak_from_this().lock();
  WorkerExit exit = reap_exit(pid_, pidfd_);
  {
    std::lock_guard lock(mu_);
    if (exit.cause.empty()) exit.cause = kill_cause_;
    // Asked to stop, and it did (or would not and was killed for it): not a
    // crash. A worker that a signal killed before it could stop (its seat
    // was dropped because it had died) crashed all the same.
    exit.asked = asked_to_stop_ && (exit.signal == 0 || killed_stopping_);
    dead_.store(true, std::memory_order_release);  // no call is added from now on
  }
  channel_.shutdown();
  // The books first, then the callers: a caller that learns of the crash
  // finds it counted.
  if (on_exit_) on_exit_(*this, exit);
  std::lock_guard lock(mu_);
  const std::string crash = exit.describe();
  for (auto& [id, call] : calls_) {
    call->crashed = true;
    call->crash = crash;
    call->done = true;
    call->cv.notify_all();
  }
  calls_.clear();
  exited_cv_.notify_all();
}

void WorkerClient::send_release(std::uint64_t offset) {
  if (!alive()) return;
  WireWriter w({.type = MessageType::kRelease});
  w.u64(offset);
  channel_.send(w.bytes()).ignore();
}

std::shared_ptr<WorkerClient::Call> WorkerClient::new_call() {
  auto call = std::make_shared<Call>();
  std::lock_guard lock(mu_);
  call->id = next_call_++;
  return call;
}

Result<std::string> WorkerClient::finish_call(const std::shared_ptr<Call>& call, const std::string& message,
                                              std::stop_token stop, CallTrace* trace) {
  const Status gone = model_failed_error("worker " + std::to_string(pid_) + " is gone");
  {
    std::lock_guard lock(mu_);
    if (!alive()) {
      trace->crashed = true;
      return gone;
    }
    calls_.emplace(call->id, call);
  }
  if (Status s = channel_.send(message); !s.ok()) {
    std::lock_guard lock(mu_);
    calls_.erase(call->id);
    if (s.code() == StatusCode::kInvalidArgument) return s;
    trace->crashed = true;  // its channel is closed: it died, and is not reaped yet
    return gone;
  }
  trace->sent = true;
  std::stop_callback on_stop(stop, [this, call] {
    std::int64_t expected = 0;
    if (call->cancelled_at_ns.compare_exchange_strong(expected, now_ns())) {
      WireWriter cancel({.type = MessageType::kCancel, .call = call->id});
      channel_.send(cancel.bytes()).ignore();
    }
  });
  std::unique_lock lock(mu_);
  call->cv.wait(lock, [&] { return call->done; });
  if (call->crashed) {
    trace->crashed = true;
    trace->streamed = call->streamed.load(std::memory_order_acquire);
    return model_failed_error(call->crash);
  }
  return std::move(call->reply);
}

Result<InferStats> WorkerClient::infer(const Request& request, Sink& sink, Deadline deadline, std::stop_token stop,
                                       CallTrace* trace) {
  const Clock::time_point sent_at = Clock::now();
  std::shared_ptr<Call> call = new_call();
  call->deadline = deadline;
  // Inputs: written once into our half of the arena.
  std::vector<TensorRef> refs;
  for (const Tensor& t : request.inputs) {
    if (t.data.size() > inputs_->capacity()) {
      return invalid_argument_error("input '" + t.name + "' is " + std::to_string(t.data.size()) +
                                    " bytes; a worker takes at most " + std::to_string(inputs_->capacity()) +
                                    " bytes of inputs at once (raise the model's process arena_mb)");
    }
    std::optional<std::uint64_t> at;
    while (!(at = inputs_->allocate(t.data.size()))) {
      // Other calls' inputs fill the arena: they leave as their calls end.
      if (Clock::now() >= deadline || stop.stop_requested() || !alive()) {
        return model_failed_error("the worker arena stayed full: " + std::to_string(inputs_->used()) + " of " +
                                  std::to_string(inputs_->capacity()) + " bytes in use");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!t.data.empty()) std::memcpy(arena_->data() + *at, t.data.data(), t.data.size());
    auto allocator = inputs_;
    auto arena = arena_;
    const std::uint64_t offset = *at;
    call->blocks.push_back(std::shared_ptr<const void>(arena_->data() + offset, [allocator, arena, offset](const void*) {
      allocator->free(offset);
    }));
    call->block_ranges.emplace_back(offset, t.data.size());
    refs.push_back({t.name, t.datatype, t.shape, offset, t.data.size()});
  }
  WireWriter w({.type = MessageType::kInfer, .call = call->id});
  w.str(request.id);
  put(w, refs);
  put(w, request.parameters);
  w.i64(remaining_ns(deadline));
  Result<std::string> reply = finish_call(call, w.bytes(), stop, trace);
  if (!reply.ok()) return reply.status();

  InferReply answer;
  const Status read = read_infer_reply(*reply, &answer);
  if (read.ok() && !answer.status.ok()) return answer.status;
  if (!read.ok()) {
    // A failed call ends with the reply's own error; a reply claiming
    // success that does not parse is the worker's fault.
    if (!answer.status.ok()) return read;
    kill("sent a malformed reply");
    return internal_error(read.message());
  }
  InferStats stats;
  // answer.worker_wait_ns, the worker's own wait, is part of the time it
  // did not run, below.
  stats.run = std::chrono::nanoseconds(answer.run_ns);
  const std::vector<TensorRef>& outs = answer.outputs;
  stats.generation = std::move(answer.generation);
  stats.queue_wait = (Clock::now() - sent_at) - stats.run;  // waiting and transport
  std::vector<Tensor> tensors;
  for (const TensorRef& o : outs) {
    if (o.offset > arena_->size() || o.size > arena_->size() - o.offset) {
      kill("answered with an output outside the arena");
      return internal_error("worker protocol: output '" + o.name + "' lies outside the arena");
    }
    std::shared_ptr<const void> owner;
    if (o.offset < arena_->half()) {
      // An input echoed back: it views that input's block.
      for (std::size_t i = 0; i < call->block_ranges.size(); ++i) {
        const auto [at, size] = call->block_ranges[i];
        if (o.offset >= at && o.offset + o.size <= at + size) owner = call->blocks[i];
      }
      if (!owner) {
        kill("answered with an output in the input half");
        return internal_error("worker protocol: output '" + o.name + "' lies in no input of this call");
      }
    } else {
      std::weak_ptr<WorkerClient> self = weak_from_this();
      auto arena = arena_;
      const std::uint64_t offset = o.offset;
      owner = std::shared_ptr<const void>(arena_->data() + offset, [self, arena, offset](const void*) {
        if (auto client = self.lock()) client->send_release(offset);
      });
    }
    tensors.push_back({o.name, o.datatype, o.shape, Buffer(std::move(owner), arena_->data() + o.offset, o.size)});
  }
  for (Tensor& t : tensors) {
    if (!sink.write(std::move(t))) return cancelled_error("the caller is gone");
  }
  return stats;
}

Result<GenerationResult> WorkerClient::generate(const GenerationRequest& request, Deadline deadline,
                                                std::stop_token stop, CallTrace* trace) {
  std::shared_ptr<Call> call = new_call();
  call->deadline = deadline;
  call->on_text = request.on_text;
  call->on_logprobs = request.on_logprobs;
  WireWriter w({.type = MessageType::kGenerate, .call = call->id});
  put(w, request);
  w.i64(remaining_ns(deadline));
  Result<std::string> reply = finish_call(call, w.bytes(), stop, trace);
  if (!reply.ok()) return reply.status();
  Status status;
  GenerationResult result;
  if (Status s = read_generate_reply(*reply, &status, &result); !s.ok()) {
    kill("sent a malformed reply");
    return internal_error(s.message());
  }
  if (!status.ok()) return status;
  return result;
}

Result<std::size_t> WorkerClient::count_tokens(std::string_view text) {
  std::shared_ptr<Call> call = new_call();
  WireWriter w({.type = MessageType::kCountTokens, .call = call->id});
  w.str(text);
  CallTrace trace;
  Result<std::string> reply = finish_call(call, w.bytes(), {}, &trace);
  if (!reply.ok()) return reply.status();
  Status status;
  std::uint64_t n = 0;
  if (Status s = read_count_tokens_reply(*reply, &status, &n); !s.ok()) return internal_error(s.message());
  if (!status.ok()) return status;
  return static_cast<std::size_t>(n);
}

}  // namespace modelpool::process
