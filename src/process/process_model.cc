#include "process/process_model.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace modelpool::process {
namespace {

class Seat;

// The workers of one model: starts them, hands out their seats, and keeps
// the books of their deaths.
class Supervisor : public std::enable_shared_from_this<Supervisor> {
 public:
  Supervisor(WorkerLaunch launch, ModelSpec spec, ServeOptions worker_serve, ServeOptions::Process settings,
             std::size_t seats_per_worker, std::size_t max_workers)
      : launch_(std::move(launch)), spec_(std::move(spec)), worker_serve_(std::move(worker_serve)),
        settings_(settings), seats_per_worker_(seats_per_worker), max_workers_(max_workers) {}

  // The Pool's factory: a seat on a worker with room, starting one if none.
  Result<std::unique_ptr<Instance>> make_seat();
  // A seat was destroyed: a worker left without seats is stopped.
  void seat_gone(const std::shared_ptr<WorkerClient>& worker);
  // Refuses new seats and leaves the workers of seats that go to shutdown().
  void begin_shutdown();

  // kModelFailed while crash-looping (until the cool-down ends), else ok.
  Status refusal() const;
  void note_success() {
    succeeded_.fetch_add(1, std::memory_order_relaxed);
    unproductive_.store(0, std::memory_order_relaxed);
  }
  void note_retry() { retried_.fetch_add(1, std::memory_order_relaxed); }
  void note_failed_by_crash() { failed_by_crash_.fetch_add(1, std::memory_order_relaxed); }

  std::shared_ptr<WorkerClient> any_worker() const;
  WorkerInfo info() const;
  WorkerStats stats() const;
  std::string unready_reason() const;
  // Stops every worker: asked at once, killed after `timeout`.
  void shutdown(std::chrono::milliseconds timeout);
  const ModelSpec& spec() const { return spec_; }

 private:
  struct Entry {
    std::shared_ptr<WorkerClient> worker;
    std::size_t seats = 0;
  };
  void on_exit(const WorkerClient& worker, const WorkerExit& exit);
  std::chrono::milliseconds backoff() const;
  bool crash_looping() const { return unproductive_.load(std::memory_order_relaxed) >= settings_.crash_loop_limit; }
  std::string unready_reason_locked() const {
    return "model '" + spec_.name + "' is crash-looping: " + std::to_string(unproductive_.load()) +
           " workers in a row died before finishing a request; the last: " + last_exit_;
  }

  const WorkerLaunch launch_;
  const ModelSpec spec_;
  const ServeOptions worker_serve_;
  const ServeOptions::Process settings_;
  const std::size_t seats_per_worker_;
  const std::size_t max_workers_;

  std::atomic<std::uint64_t> succeeded_{0}, retried_{0}, failed_by_crash_{0};
  std::atomic<std::size_t> unproductive_{0};  // workers in a row that died before finishing a request

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> workers_;  // live ones
  bool starting_ = false;
  bool shutting_down_ = false;
  WorkerInfo info_;
  bool have_info_ = false;
  std::uint64_t started_ = 0, restarts_ = 0, heartbeat_kills_ = 0, hang_kills_ = 0;
  std::size_t dead_unreplaced_ = 0;
  std::map<std::string, std::uint64_t> crashes_;
  std::string last_exit_;
  Clock::time_point loop_until_{};
};

class Seat final : public Instance {
 public:
  Seat(std::shared_ptr<Supervisor> supervisor, std::shared_ptr<WorkerClient> worker)
      : supervisor_(std::move(supervisor)), worker_(std::move(worker)) {}
  ~Seat() override { supervisor_->seat_gone(worker_); }

  WorkerClient& worker() const { return *worker_; }
  std::size_t bytes() const override { return worker_->info().instance_bytes; }
  // The dashboard's tile shows whose seat this is; a seat never changes worker.
  std::string label() const override { return "pid " + std::to_string(worker_->pid()); }
  Status run(const Request& request, Sink& sink, std::stop_token stop) override {
    CallTrace trace;
    return worker_->infer(request, sink, kNoDeadline, stop, &trace).status();
  }
  Status check() override {
    if (worker_->alive()) return {};
    return internal_error("worker " + std::to_string(worker_->pid()) + " is gone");
  }

 private:
  const std::shared_ptr<Supervisor> supervisor_;
  const std::shared_ptr<WorkerClient> worker_;
};

Result<std::unique_ptr<Instance>> Supervisor::make_seat() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (shutting_down_) return shutting_down_error("model '" + spec_.name + "' is shutting down");
    for (Entry& e : workers_) {
      if (e.worker->alive() && e.seats < seats_per_worker_) {
        ++e.seats;
        return std::unique_ptr<Instance>(std::make_unique<Seat>(shared_from_this(), e.worker));
      }
    }
    if (!starting_) break;
    cv_.wait(lock);
  }
  if (workers_.size() >= max_workers_) {
    return internal_error("model '" + spec_.name + "': every worker's seats are taken");
  }
  starting_ = true;
  const std::chrono::milliseconds delay = backoff();
  if (delay.count() > 0) cv_.wait_for(lock, delay, [&] { return shutting_down_; });
  lock.unlock();
  std::weak_ptr<Supervisor> self = weak_from_this();
  Result<std::shared_ptr<WorkerClient>> started =
      WorkerClient::start(launch_, spec_, worker_serve_, [self](const WorkerClient& w, const WorkerExit& exit) {
        if (auto s = self.lock()) s->on_exit(w, exit);
      });
  lock.lock();
  starting_ = false;
  cv_.notify_all();
  if (!started.ok()) {
    last_exit_ = started.status().message();
    return started.status();
  }
  ++started_;
  if (dead_unreplaced_ > 0) {
    --dead_unreplaced_;
    ++restarts_;
  }
  if (!have_info_) {
    info_ = (*started)->info();
    have_info_ = true;
  }
  if (shutting_down_) {
    lock.unlock();
    (*started)->stop(std::chrono::milliseconds(1000));
    return shutting_down_error("model '" + spec_.name + "' is shutting down");
  }
  workers_.push_back({*started, 1});
  return std::unique_ptr<Instance>(std::make_unique<Seat>(shared_from_this(), *started));
}

void Supervisor::seat_gone(const std::shared_ptr<WorkerClient>& worker) {
  std::shared_ptr<WorkerClient> idle;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(workers_.begin(), workers_.end(), [&](const Entry& e) { return e.worker == worker; });
    if (it == workers_.end()) return;
    if (--it->seats > 0 || shutting_down_) return;  // shutdown() stops them all at once
    idle = std::move(it->worker);
    workers_.erase(it);
  }
  idle->stop(std::chrono::milliseconds(2000));
}

std::chrono::milliseconds Supervisor::backoff() const {
  const std::size_t n = unproductive_.load(std::memory_order_relaxed);
  if (n == 0) return std::chrono::milliseconds(0);
  const std::size_t shift = std::min<std::size_t>(n - 1, 20);
  return std::min(settings_.restart_backoff_max, std::chrono::milliseconds(100) * (std::int64_t{1} << shift));
}

void Supervisor::on_exit(const WorkerClient& worker, const WorkerExit& exit) {
  std::shared_ptr<WorkerClient> gone;  // dropped after the lock
  std::lock_guard lock(mu_);
  auto it = std::find_if(workers_.begin(), workers_.end(), [&](const Entry& e) { return e.worker.get() == &worker; });
  if (it != workers_.end()) {
    gone = std::move(it->worker);
    workers_.erase(it);
  }
  cv_.notify_all();
  if (exit.asked || shutting_down_) return;
  ++crashes_[exit.how()];
  if (exit.cause.rfind("missed heartbeats", 0) == 0) ++heartbeat_kills_;
  else if (!exit.cause.empty()) ++hang_kills_;
  last_exit_ = exit.describe();
  ++dead_unreplaced_;
  if (worker.completed() == 0) {
    unproductive_.fetch_add(1, std::memory_order_relaxed);
  } else {
    unproductive_.store(0, std::memory_order_relaxed);
  }
  if (crash_looping()) loop_until_ = Clock::now() + settings_.restart_backoff_max;
  std::fprintf(stderr, "modelpool: model '%s': %s; %s\n", spec_.name.c_str(), last_exit_.c_str(),
               crash_looping() ? "crash loop: the model is unready" : "restarting it");
}

Status Supervisor::refusal() const {
  if (!crash_looping()) return {};
  std::lock_guard lock(mu_);
  if (Clock::now() >= loop_until_) return {};  // cooled down: let requests try again
  return model_failed_error(unready_reason_locked());
}

std::string Supervisor::unready_reason() const {
  if (!crash_looping()) return {};
  std::lock_guard lock(mu_);
  return unready_reason_locked();
}

std::shared_ptr<WorkerClient> Supervisor::any_worker() const {
  std::lock_guard lock(mu_);
  for (const Entry& e : workers_) {
    if (e.worker->alive()) return e.worker;
  }
  return nullptr;
}

WorkerInfo Supervisor::info() const {
  std::lock_guard lock(mu_);
  return info_;
}

WorkerStats Supervisor::stats() const {
  WorkerStats s;
  std::lock_guard lock(mu_);
  for (const Entry& e : workers_) s.pids.push_back(e.worker->pid());
  s.started = started_;
  s.restarts = restarts_;
  s.crashes = crashes_;
  s.heartbeat_kills = heartbeat_kills_;
  s.hang_kills = hang_kills_;
  s.succeeded = succeeded_.load(std::memory_order_relaxed);
  s.retried = retried_.load(std::memory_order_relaxed);
  s.failed_by_crash = failed_by_crash_.load(std::memory_order_relaxed);
  s.last_exit = last_exit_;
  return s;
}

void Supervisor::begin_shutdown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
}

void Supervisor::shutdown(std::chrono::milliseconds timeout) {
  std::vector<Entry> workers;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    workers.swap(workers_);
    cv_.notify_all();
  }
  // All asked at once, then waited for together: the time is one timeout,
  // not one per worker.
  for (Entry& e : workers) e.worker->ask_to_stop();
  const Clock::time_point deadline = Clock::now() + timeout;
  for (Entry& e : workers) e.worker->wait_stopped(deadline);
}

class ProcessModel final : public Model {
 public:
  ProcessModel(std::shared_ptr<Supervisor> supervisor, std::unique_ptr<Pool> pool, std::string describe)
      : supervisor_(std::move(supervisor)), pool_(std::move(pool)), info_(supervisor_->info()),
        describe_(std::move(describe)) {}
  ~ProcessModel() override {
    shutdown(std::chrono::milliseconds(1000)).ignore();
    pool_.reset();
  }

  Capabilities capabilities() const override { return info_.capabilities; }

  Result<InferStats> infer(const Request& request, Sink& sink, Deadline deadline, std::stop_token stop) override {
    const Clock::time_point arrived = Clock::now();
    Clock::time_point granted;
    Result<InferStats> r = with_retry(deadline, stop, [&](WorkerClient& w, CallTrace* trace) {
      granted = Clock::now();
      return w.infer(request, sink, deadline, stop, trace);
    });
    if (r.ok()) r->queue_wait += granted - arrived;
    return r;
  }

  Result<GenerationResult> generate(const GenerationRequest& request, Deadline deadline,
                                    std::stop_token stop) override {
    const Clock::time_point t0 = Clock::now();
    Clock::time_point granted;
    Result<GenerationResult> r = with_retry(deadline, stop, [&](WorkerClient& w, CallTrace* trace) {
      granted = Clock::now();
      return w.generate(request, deadline, stop, trace);
    });
    if (r.ok()) {
      // The worker timed from when it got the request; the caller asked at t0.
      const double before = std::chrono::duration<double>(granted - t0).count();
      r->queue_s += before;
      r->ttft_s += before;
      r->total_s += before;
      for (double& t : r->token_times_s) t += before;
    }
    return r;
  }

  Result<std::size_t> count_tokens(std::string_view text) const override {
    if (!has(info_.capabilities, Capability::kGenerate)) return Model::count_tokens(text);
    std::shared_ptr<WorkerClient> w = supervisor_->any_worker();
    if (!w) return model_failed_error("model '" + supervisor_->spec().name + "' has no worker running");
    return w->count_tokens(text);
  }
  std::size_t max_sequence_tokens() const override { return info_.max_sequence_tokens; }

  ModelStats stats() const override {
    ModelStats s;
    s.pool = pool_->snapshot();
    s.weights_bytes = info_.weights_bytes;
    s.instance_bytes = info_.instance_bytes;
    s.workers = supervisor_->stats();
    s.unready_reason = supervisor_->unready_reason();
    if (s.unready_reason.empty() && s.pool.failed) {
      s.unready_reason = "workers fail to start: " + s.workers->last_exit;
    }
    return s;
  }
  std::string describe() const override { return describe_; }

  // Requests in flight finish (up to `timeout`), then every worker is
  // stopped at once (killed after at most a second).
  Status shutdown(std::chrono::milliseconds timeout) override {
    supervisor_->begin_shutdown();
    Status s = pool_->shutdown(timeout);
    supervisor_->shutdown(std::min<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(1000)));
    return s;
  }

 private:
  // Runs `call` on a seat; once more on another when its worker died
  // before anything was streamed.
  template <typename Call>
  auto with_retry(Deadline deadline, std::stop_token stop, Call call)
      -> decltype(call(std::declval<WorkerClient&>(), nullptr)) {
    if (Status s = supervisor_->refusal(); !s.ok()) return s;
    bool retried = false;
    for (;;) {
      Result<Lease> lease = pool_->acquire(deadline, stop);
      if (!lease.ok()) return lease.status();
      WorkerClient& worker = static_cast<Seat&>(lease->instance()).worker();
      CallTrace trace;
      auto r = call(worker, &trace);
      if (trace.crashed && !trace.sent) {  // its worker was gone before the request reached it
        lease->mark_broken(r.status().message());
        continue;
      }
      if (!trace.crashed) {
        if (r.ok()) supervisor_->note_success();
        if (!r.ok() && r.status().code() == StatusCode::kInternal) lease->mark_broken(r.status().message());
        return r;
      }
      lease->mark_broken(r.status().message());
      if (!trace.streamed && !retried && supervisor_->refusal().ok()) {
        retried = true;
        supervisor_->note_retry();
        continue;
      }
      supervisor_->note_failed_by_crash();
      return model_failed_error("model '" + supervisor_->spec().name + "': " + r.status().message() +
                                " while running this request" + (retried ? " (it had been retried once)" : ""));
    }
  }

  const std::shared_ptr<Supervisor> supervisor_;
  std::unique_ptr<Pool> pool_;
  const WorkerInfo info_;
  const std::string describe_;
};

// What one worker serves with: one instance on its share of the threads.
ServeOptions worker_options(const ServeOptions& serve) {
  ServeOptions worker = serve;
  worker.min_instances = worker.max_instances = 1;
  worker.isolation = "thread";
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  worker.threads = std::max<std::size_t>(
      1, (serve.threads != 0 ? serve.threads : cores) / std::max<std::size_t>(1, serve.max_instances));
  return worker;
}

}  // namespace

ComputeThreads ProcessExecutor::compute_threads(const Backend& backend, const ModelSpec& spec,
                                                const ServeOptions& serve) const {
  const ComputeThreads one = backend.compute_threads(spec, worker_options(serve));
  return {one.busy * std::max<std::size_t>(1, serve.max_instances), one.lock_step};
}

Result<std::unique_ptr<Model>> ProcessExecutor::open(Backend& backend, Registry&, const ModelSpec& spec,
                                                     const ServeOptions& serve) {
  if (Status s = backend.check(spec, serve); !s.ok()) return s;
  const bool batched = serve.mode == ServeOptions::Mode::kBatched;
  const std::size_t seats = batched ? serve.slots : 1;
  const ServeOptions worker = worker_options(serve);
  auto supervisor = std::make_shared<Supervisor>(launch_, spec, worker, serve.process, seats, serve.max_instances);

  PoolOptions po;
  po.name = spec.name;
  po.min_instances = serve.min_instances * seats;
  po.max_instances = serve.max_instances * seats;
  po.max_queue = serve.max_queue;
  po.warmup = false;  // each worker warms its own instance up
  po.eager = true;
  po.on_progress = serve.on_instance;
  po.autoscale = serve.autoscale;
  po.memory_budget = serve.memory_budget;
  po.on_growth_refused = serve.on_growth_refused;
  po.health_check_interval = serve.process.heartbeat_interval;  // a dead worker's idle seats go soon
  po.service_threads = 2;
  auto pool = Pool::create([supervisor] { return supervisor->make_seat(); }, po);
  if (!pool.ok()) return pool.status();
  if (Status s = (*pool)->wait_ready(); !s.ok()) {
    (*pool)->shutdown(std::chrono::milliseconds(1000)).ignore();
    supervisor->shutdown(std::chrono::milliseconds(1000));
    return s;
  }
  const WorkerInfo info = supervisor->info();
  const std::string describe = "process isolation, workers [" + std::to_string(serve.min_instances) + ", " +
                               std::to_string(serve.max_instances) + "] of: " + info.describe;
  return std::unique_ptr<Model>(std::make_unique<ProcessModel>(supervisor, std::move(*pool), describe));
}

}  // namespace modelpool::process
