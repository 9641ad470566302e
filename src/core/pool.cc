#include "modelpool/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <utility>

namespace modelpool {

using std::chrono::milliseconds;

// One live instance. Fields other than `instance`, `id` and `label` are guarded by
// Pool::mu_, except while the slot is busy: then its holder owns `broken` and
// `broken_reason`, published to the pool by the locked release.
struct Pool::Slot {
  enum class State { kIdle, kBusy, kChecking };

  // Declared before `instance`: the bytes go back to the budget only once
  // the instance is destroyed.
  MemoryReservation reservation;
  std::unique_ptr<Instance> instance;
  std::uint64_t id = 0;
  std::string label;  // Instance::label(), read once before the slot went live
  State state = State::kIdle;
  bool broken = false;
  std::string broken_reason;
  Clock::time_point idle_since{};
  Clock::time_point last_checked{};
  Clock::time_point leased_at{};
};

// A caller waiting in acquire(). Lives on that caller's stack; linked into
// the pool's wait list while queued. Guarded by Pool::mu_.
struct Pool::Waiter {
  std::condition_variable cv;
  std::uint64_t ticket = 0;
  Slot* granted = nullptr;
  std::uint64_t grant = 0;
  Status failure;
  bool done = false;  // granted or failed; unlinked from the list
  bool cancel_requested = false;
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
};

// Intrusive FIFO of waiters: O(1) push, pop and removal, no allocation.
struct Pool::WaitList {
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
  std::size_t size = 0;

  bool empty() const { return head == nullptr; }
  void push_back(Waiter* w) {
    w->prev = tail;
    w->next = nullptr;
    (tail ? tail->next : head) = w;
    tail = w;
    ++size;
  }
  void remove(Waiter* w) {
    (w->prev ? w->prev->next : head) = w->next;
    (w->next ? w->next->prev : tail) = w->prev;
    w->prev = w->next = nullptr;
    --size;
  }
};

namespace {

template <typename Fn>
Status guarded(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return internal_error(std::string(what) + " threw: " + e.what());
  } catch (...) {
    return internal_error(std::string(what) + " threw a non-standard exception");
  }
}

std::string read_label(const Instance& instance) {
  try {
    return instance.label();
  } catch (...) {
    return {};
  }
}

std::string seconds_text(Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

std::string_view instance_state_name(InstanceState state) {
  switch (state) {
    case InstanceState::kCreating: return "creating";
    case InstanceState::kWarming: return "warming";
    case InstanceState::kRestarting: return "restarting";
    case InstanceState::kIdle: return "idle";
    case InstanceState::kBusy: return "busy";
    case InstanceState::kChecking: return "checking";
    case InstanceState::kBroken: return "broken";
  }
  return "unknown";
}

// ---------------------------------------------------------------- Lease

Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      slot_(std::exchange(other.slot_, nullptr)),
      ticket_(other.ticket_),
      grant_(other.grant_) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::exchange(other.pool_, nullptr);
    slot_ = std::exchange(other.slot_, nullptr);
    ticket_ = other.ticket_;
    grant_ = other.grant_;
  }
  return *this;
}

Instance& Lease::instance() const {
  if (slot_ == nullptr) {
    std::fprintf(stderr, "modelpool: Lease used after release or move\n");
    std::abort();
  }
  return *slot_->instance;
}

std::uint64_t Lease::instance_id() const { return slot_ ? slot_->id : 0; }

void Lease::mark_broken(std::string reason) {
  if (slot_ == nullptr) {
    std::fprintf(stderr, "modelpool: Lease::mark_broken on an empty lease\n");
    std::abort();
  }
  slot_->broken = true;
  slot_->broken_reason = std::move(reason);
}

void Lease::release() {
  if (slot_ == nullptr) return;
  Pool* pool = std::exchange(pool_, nullptr);
  pool->release(std::exchange(slot_, nullptr));
}

// ---------------------------------------------------------------- Pool

Result<std::unique_ptr<Pool>> Pool::create(InstanceFactory factory, PoolOptions options) {
  const std::string where = "pool '" + options.name + "': ";
  if (!factory) return invalid_argument_error(where + "no instance factory");
  if (options.max_instances == 0) return invalid_argument_error(where + "max_instances must be >= 1");
  if (options.min_instances > options.max_instances) {
    return invalid_argument_error(where + "min_instances (" + std::to_string(options.min_instances) +
                                  ") exceeds max_instances (" +
                                  std::to_string(options.max_instances) + ")");
  }
  if (options.service_threads == 0) return invalid_argument_error(where + "service_threads must be >= 1");
  if (options.max_creation_failures == 0) {
    return invalid_argument_error(where + "max_creation_failures must be >= 1");
  }
  if (options.backoff_initial.count() < 0 || options.backoff_max < options.backoff_initial) {
    return invalid_argument_error(where + "backoff_initial must be >= 0 and <= backoff_max");
  }
  if (options.health_check_interval.count() < 0 || options.autoscale.upscale_delay.count() < 0 ||
      options.autoscale.downscale_delay.count() < 0 || options.drain_timeout.count() < 0) {
    return invalid_argument_error(where + "intervals, delays and timeouts must be >= 0");
  }
  if (!(options.autoscale.target_ongoing_requests > 0) ||
      !std::isfinite(options.autoscale.target_ongoing_requests)) {
    return invalid_argument_error(where + "autoscale.target_ongoing_requests must be > 0");
  }
  if (options.budget_retry.count() <= 0) return invalid_argument_error(where + "budget_retry must be > 0");
  return std::unique_ptr<Pool>(new Pool(std::move(factory), std::move(options)));
}

Pool::Pool(InstanceFactory factory, PoolOptions options)
    : factory_(std::move(factory)), options_(std::move(options)), waiters_(new WaitList) {
  idle_.reserve(options_.max_instances);
  slots_.reserve(options_.max_instances);
  making_.reserve(options_.max_instances);
  service_threads_.reserve(options_.service_threads);
  for (std::size_t i = 0; i < options_.service_threads; ++i) {
    service_threads_.emplace_back([this] { service_loop(); });
  }
}

Pool::~Pool() {
  shutdown(options_.drain_timeout).ignore();
  std::unique_lock lock(mu_);
  while (!state_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return busy_ == 0; })) {
    std::fprintf(stderr, "modelpool: pool '%s' destroyed while %zu lease(s) are out; waiting\n",
                 options_.name.c_str(), busy_);
  }
}

std::size_t Pool::floor_locked() const {
  return (options_.eager || demanded_) ? options_.min_instances : 0;
}

std::size_t Pool::desired_locked() const {
  if (shutting_down_) return 0;
  const std::size_t ongoing = busy_ + waiters_->size;
  std::size_t demand = ongoing;
  if (options_.autoscale.target_ongoing_requests != 1.0) {
    demand = static_cast<std::size_t>(
        std::ceil(static_cast<double>(ongoing) / options_.autoscale.target_ongoing_requests));
  }
  return std::min(options_.max_instances, std::max(floor_locked(), demand + checking_));
}

void Pool::track_load_locked() {
  if (options_.min_instances == options_.max_instances) return;  // a fixed pool
  const std::size_t want = desired_locked();
  const std::size_t live = slots_.size();
  if (want <= live + creating_) {
    up_since_ = {};
  } else if (up_since_ == Clock::time_point{}) {
    up_since_ = Clock::now();
  }
  if (want >= live) {
    down_since_ = {};
  } else if (down_since_ == Clock::time_point{}) {
    down_since_ = Clock::now();
  }
}

Lease Pool::make_lease_locked(Slot* slot, std::uint64_t ticket) {
  slot->state = Slot::State::kBusy;
  slot->leased_at = Clock::now();
  ++busy_;
  ++acquired_;
  return Lease(this, slot, ticket, next_grant_++);
}

Result<Lease> Pool::try_acquire() {
  std::unique_lock lock(mu_);
  if (shutting_down_) return shutting_down_error("pool '" + options_.name + "' is shutting down");
  if (!waiters_->empty() || idle_.empty()) return timeout_error("no idle instance");
  Slot* slot = idle_.back();
  idle_.pop_back();
  Lease lease = make_lease_locked(slot, next_ticket_++);
  track_load_locked();
  lock.unlock();
  queue_wait_.record(std::chrono::nanoseconds(0));
  return lease;
}

Result<Lease> Pool::acquire(Deadline deadline, std::stop_token stop) {
  std::unique_lock lock(mu_);
  // Fast path: an idle instance and nobody ahead of us.
  if (waiters_->empty() && !idle_.empty() && !stop.stop_requested()) {
    Slot* slot = idle_.back();
    idle_.pop_back();
    Lease lease = make_lease_locked(slot, next_ticket_++);
    track_load_locked();
    lock.unlock();
    queue_wait_.record(std::chrono::nanoseconds(0));
    return lease;
  }

  const std::string& name = options_.name;
  if (shutting_down_) return shutting_down_error("pool '" + name + "' is shutting down");
  if (stop.stop_requested()) {
    ++cancelled_;
    return cancelled_error("acquire on pool '" + name + "' cancelled before it started");
  }
  demanded_ = true;
  const Clock::time_point arrived = Clock::now();
  if (failed_ && slots_.empty() && creating_ == 0) {
    if (arrived < next_create_at_) {
      ++model_failed_;
      return model_failed_error("pool '" + name + "' cannot create instances (" +
                                last_failure_.to_string() + "); next retry in " +
                                seconds_text(next_create_at_ - arrived));
    }
    failed_ = false;  // backoff is over: this demand retries creation
  }
  if (waiters_->size >= options_.max_queue) {
    ++rejected_;
    return queue_full_error("pool '" + name + "' queue is full (" +
                            std::to_string(waiters_->size) + " waiting, max_queue " +
                            std::to_string(options_.max_queue) + ")");
  }
  if (deadline <= arrived) {
    ++timed_out_;
    return timeout_error("deadline passed before an instance of '" + name + "' was free");
  }

  Waiter w;
  w.ticket = next_ticket_++;
  waiters_->push_back(&w);
  track_load_locked();
  if (desired_locked() > slots_.size() + creating_) service_cv_.notify_all();
  lock.unlock();

  Result<Lease> result = internal_error("unreachable");
  {
    // Runs the callback at once if stop is already requested; it takes mu_,
    // so it must be built and destroyed without mu_ held.
    std::stop_callback on_stop(stop, [this, &w] {
      std::lock_guard guard(mu_);
      w.cancel_requested = true;
      w.cv.notify_one();
    });
    lock.lock();
    while (!w.done && !w.cancel_requested) {
      if (deadline == kNoDeadline) {
        w.cv.wait(lock);
      } else if (w.cv.wait_until(lock, deadline) == std::cv_status::timeout) {
        break;
      }
    }
    if (w.done && w.granted != nullptr) {
      // A grant that beat the cancellation or the deadline is honoured.
      result = Lease(this, w.granted, w.ticket, w.grant);
    } else if (w.done) {
      result = w.failure;
    } else {
      waiters_->remove(&w);
      track_load_locked();
      if (w.cancel_requested) {
        ++cancelled_;
        result = cancelled_error("acquire on pool '" + name + "' cancelled while queued");
      } else {
        ++timed_out_;
        result = timeout_error("deadline passed while waiting for an instance of '" + name +
                               "' (waited " + seconds_text(Clock::now() - arrived) + ")");
      }
    }
    lock.unlock();
  }
  if (result.ok()) queue_wait_.record(Clock::now() - arrived);
  return result;
}

void Pool::grant_locked(Waiter* waiter, Slot* slot) {
  waiters_->remove(waiter);
  slot->state = Slot::State::kBusy;
  slot->leased_at = Clock::now();
  ++busy_;
  ++acquired_;
  waiter->granted = slot;
  waiter->grant = next_grant_++;
  waiter->done = true;
  waiter->cv.notify_one();  // under mu_: the waiter's cv dies once it returns
}

void Pool::fail_waiters_locked(const Status& status) {
  while (!waiters_->empty()) {
    Waiter* w = waiters_->head;
    waiters_->remove(w);
    w->failure = status;
    w->done = true;
    w->cv.notify_one();
    if (status.code() == StatusCode::kModelFailed) ++model_failed_;
  }
}

void Pool::doom_locked(Slot* slot) {
  auto it = std::find_if(slots_.begin(), slots_.end(), [&](const auto& s) { return s.get() == slot; });
  reserved_bytes_ -= (*it)->reservation.bytes();
  doomed_.push_back(std::move(*it));
  slots_.erase(it);
  track_load_locked();
  service_cv_.notify_one();
}

void Pool::place_locked(Slot* slot, Clock::time_point now) {
  if (shutting_down_ || slots_.size() > options_.max_instances) {
    doom_locked(slot);
  } else if (!waiters_->empty()) {
    grant_locked(waiters_->head, slot);
  } else {
    slot->state = Slot::State::kIdle;
    slot->idle_since = now;
    idle_.push_back(slot);
    // Idle timers (health checks, shrinking) need a service thread to wake
    // for them; wake one only when none is already due to, so a release stays
    // free of syscalls in steady state.
    if (!idle_timer_armed_ && (options_.health_check_interval.count() > 0 ||
                               options_.autoscale.downscale_delay.count() > 0)) {
      idle_timer_armed_ = true;
      service_cv_.notify_one();
    }
  }
  track_load_locked();
}

void Pool::release(Slot* slot) {
  const Clock::time_point now = Clock::now();
  lease_hold_.record(now - slot->leased_at);
  std::unique_lock lock(mu_);
  if (slot->broken) {
    ++broken_total_;
    ++owed_replacements_;
    doom_locked(slot);
    service_cv_.notify_all();  // a replacement may be due
  } else {
    place_locked(slot, now);
  }
  if (services_stopped_ && !doomed_.empty()) {
    // No service thread is left to destroy it: do it here, off the lock.
    std::unique_ptr<Slot> victim = std::move(doomed_.back());
    doomed_.pop_back();
    lock.unlock();
    victim.reset();
    lock.lock();
    ++destroyed_;
  }
  --busy_;
  if (busy_ == 0 && shutting_down_) state_cv_.notify_all();
}

// ---------------------------------------------------------------- service threads

std::uint64_t Pool::begin_making_locked() {
  const auto replacing = static_cast<std::size_t>(
      std::count_if(making_.begin(), making_.end(), [](const Making& m) { return m.replacing; }));
  const std::uint64_t id = next_instance_id_++;
  making_.push_back({id, false, replacing < owed_replacements_});
  ++creating_;
  return id;
}

void Pool::end_making_locked(std::uint64_t id) {
  auto it =
      std::find_if(making_.begin(), making_.end(), [&](const Making& m) { return m.id == id; });
  if (it != making_.end()) making_.erase(it);
  --creating_;
}

void Pool::record_failure_locked(const Status& status, Clock::time_point now) {
  ++creation_failures_;
  ++consecutive_failures_;
  last_failure_ = status;
  const auto shift = std::min<std::size_t>(consecutive_failures_ - 1, 20);
  const milliseconds backoff =
      std::min(options_.backoff_max, milliseconds(options_.backoff_initial.count() << shift));
  next_create_at_ = now + backoff;
  if (consecutive_failures_ >= options_.max_creation_failures) {
    failed_ = true;
    if (slots_.empty() && creating_ == 0) {
      fail_waiters_locked(model_failed_error(
          "pool '" + options_.name + "' failed to create an instance " +
          std::to_string(consecutive_failures_) + " times in a row; last error: " + status.to_string()));
    }
  }
}

void Pool::create_one(std::uint64_t id, MemoryReservation reservation) {
  const Clock::time_point started = Clock::now();
  Result<std::unique_ptr<Instance>> made = internal_error("instance factory threw");
  Status status = guarded("instance factory", [&] {
    made = factory_();
    if (!made.ok()) return made.status();
    if (*made == nullptr) return internal_error("instance factory returned no instance");
    if (!options_.warmup) return Status();
    {
      std::lock_guard lock(mu_);  // seen as "warming" from now on
      for (Making& m : making_) {
        if (m.id == id) m.warming = true;
      }
    }
    return (*made)->warmup();
  });
  if (!status.ok() && made.ok()) {
    // Warm-up failed: the instance is destroyed here, off the lock.
    made = status;
  }
  std::string label = status.ok() ? read_label(**made) : std::string();
  // Hold what the instance says it holds; over budget, it goes at once.
  std::size_t reported = 0;
  bool refused = false;
  if (status.ok()) {
    reported = (*made)->bytes();
    Status fits = reservation.resize(reported, "pool '" + options_.name + "': an instance");
    if (!fits.ok()) {
      made = fits;  // destroyed here, off the lock
      status = fits;
      refused = true;
    }
  }

  std::unique_lock lock(mu_);
  learned_instance_bytes_ = std::max(learned_instance_bytes_, reported);
  end_making_locked(id);
  const Clock::time_point now = Clock::now();
  if (refused && slots_.size() + creating_ >= floor_locked()) {
    ++growth_refused_;
    budget_limited_ = true;
    budget_retry_at_ = now + options_.budget_retry;
  } else if (status.ok()) {
    consecutive_failures_ = 0;
    failed_ = false;
    ++created_;
    if (owed_replacements_ > 0) {
      --owed_replacements_;
      ++replaced_;
    }
    auto slot = std::make_unique<Slot>();
    reserved_bytes_ += reservation.bytes();
    slot->reservation = std::move(reservation);
    slot->instance = std::move(*made);
    slot->id = id;
    slot->label = std::move(label);
    slot->last_checked = now;
    Slot* raw = slot.get();
    slots_.push_back(std::move(slot));
    place_locked(raw, now);
  } else {
    record_failure_locked(status, now);
  }
  track_load_locked();
  state_cv_.notify_all();
  if (options_.on_progress) {
    PoolProgress progress{slots_.size(), desired_locked(), consecutive_failures_, status, now - started};
    lock.unlock();
    options_.on_progress(progress);
  }
}

void Pool::check_one(Slot* slot) {
  Status status = guarded("Instance::check", [&] { return slot->instance->check(); });
  std::lock_guard lock(mu_);
  --checking_;
  const Clock::time_point now = Clock::now();
  slot->last_checked = now;
  if (status.ok()) {
    place_locked(slot, now);
  } else {
    slot->broken = true;
    slot->broken_reason = status.to_string();
    ++broken_total_;
    ++owed_replacements_;
    doom_locked(slot);
  }
  if (checking_ == 0 && shutting_down_) state_cv_.notify_all();
}

void Pool::service_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    idle_timer_armed_ = true;  // awake: timers are looked at before sleeping
    if (!doomed_.empty()) {
      std::unique_ptr<Slot> victim = std::move(doomed_.back());
      doomed_.pop_back();
      lock.unlock();
      victim.reset();
      lock.lock();
      ++destroyed_;
      state_cv_.notify_all();
      continue;
    }
    if (stopping_services_) return;

    const Clock::time_point now = Clock::now();
    Clock::time_point wake = kNoDeadline;

    // Growth: at once up to the floor (or to one instance when there is
    // none), beyond it once the load has wanted more for upscale_delay.
    const std::size_t have = slots_.size() + creating_;
    const std::size_t want = desired_locked();
    const std::size_t urgent = std::max(floor_locked(), std::min<std::size_t>(want, 1));
    Clock::time_point grow_at = kNoDeadline;
    if (want > have) {
      if (have < urgent) {
        grow_at = next_create_at_;
      } else {
        if (up_since_ == Clock::time_point{}) up_since_ = now;
        grow_at = std::max({next_create_at_, up_since_ + options_.autoscale.upscale_delay, budget_retry_at_});
      }
    } else {
      budget_limited_ = false;
    }
    if (grow_at <= now) {
      MemoryReservation reservation;
      if (options_.memory_budget) {
        const std::size_t estimate = std::max(options_.instance_bytes, learned_instance_bytes_);
        Result<MemoryReservation> r =
            options_.memory_budget->reserve(estimate, "pool '" + options_.name + "': instance " +
                                                          std::to_string(have + 1));
        if (!r.ok() && have < urgent) {
          record_failure_locked(r.status(), now);
          state_cv_.notify_all();
          continue;
        }
        if (!r.ok()) {
          ++growth_refused_;
          budget_retry_at_ = now + options_.budget_retry;
          const bool first = !budget_limited_;
          budget_limited_ = true;
          if (first && options_.on_growth_refused) {
            lock.unlock();
            options_.on_growth_refused(r.status());
            lock.lock();
          }
          continue;
        }
        reservation = std::move(*r);
      }
      budget_limited_ = false;
      const std::uint64_t id = begin_making_locked();
      track_load_locked();
      lock.unlock();
      create_one(id, std::move(reservation));
      lock.lock();
      continue;
    }
    wake = grow_at;

    if (options_.health_check_interval.count() > 0) {
      auto due_at = [&](const Slot* slot) {
        return slot->last_checked + options_.health_check_interval;
      };
      auto it = std::find_if(idle_.begin(), idle_.end(),
                             [&](const Slot* slot) { return due_at(slot) <= now; });
      if (it != idle_.end()) {
        Slot* slot = *it;
        idle_.erase(it);
        slot->state = Slot::State::kChecking;
        ++checking_;
        lock.unlock();
        check_one(slot);
        lock.lock();
        continue;
      }
      for (const Slot* slot : idle_) wake = std::min(wake, due_at(slot));
    }

    // Shrinking: once the load has wanted fewer instances than there are
    // for downscale_delay, idle ones go, the one idle longest first.
    if (options_.autoscale.downscale_delay.count() > 0 && slots_.size() > floor_locked() &&
        want < slots_.size() && !idle_.empty()) {
      if (down_since_ == Clock::time_point{}) down_since_ = now;
      const Clock::time_point due = down_since_ + options_.autoscale.downscale_delay;
      if (due <= now) {
        Slot* oldest = idle_.front();  // LIFO: the front has been idle longest
        idle_.erase(idle_.begin());
        doom_locked(oldest);
        continue;
      }
      wake = std::min(wake, due);
    }

    idle_timer_armed_ = wake != kNoDeadline && !idle_.empty();
    if (wake == kNoDeadline) {
      service_cv_.wait(lock);
    } else {
      service_cv_.wait_until(lock, wake);
    }
  }
}

// ---------------------------------------------------------------- control

Status Pool::wait_ready(Deadline deadline) {
  std::unique_lock lock(mu_);
  auto settled = [&] {
    return shutting_down_ || failed_ || !(options_.eager || demanded_) ||
           slots_.size() >= options_.min_instances;
  };
  if (deadline == kNoDeadline) {
    state_cv_.wait(lock, settled);
  } else if (!state_cv_.wait_until(lock, deadline, settled)) {
    return timeout_error("pool '" + options_.name + "' has " + std::to_string(slots_.size()) +
                         " of " + std::to_string(options_.min_instances) + " instances ready");
  }
  if (shutting_down_) return shutting_down_error("pool '" + options_.name + "' is shutting down");
  if (slots_.size() >= options_.min_instances || !(options_.eager || demanded_)) return {};
  return model_failed_error("pool '" + options_.name + "' cannot create instances: " +
                            last_failure_.to_string());
}

Status Pool::resize(std::size_t min_instances, std::size_t max_instances) {
  const std::string where = "pool '" + options_.name + "': ";
  if (max_instances == 0) return invalid_argument_error(where + "max_instances must be >= 1");
  if (min_instances > max_instances) {
    return invalid_argument_error(where + "min_instances exceeds max_instances");
  }
  std::lock_guard lock(mu_);
  if (shutting_down_) return shutting_down_error(where + "is shutting down");
  options_.min_instances = min_instances;
  options_.max_instances = max_instances;
  idle_.reserve(max_instances);
  making_.reserve(max_instances);
  while (slots_.size() > max_instances && !idle_.empty()) {
    Slot* victim = idle_.front();
    idle_.erase(idle_.begin());
    doom_locked(victim);
  }
  service_cv_.notify_all();
  return {};
}

Status Pool::shutdown(milliseconds timeout) {
  std::lock_guard lifecycle(lifecycle_mu_);
  std::unique_lock lock(mu_);
  if (!shutting_down_) {
    shutting_down_ = true;
    fail_waiters_locked(shutting_down_error("pool '" + options_.name + "' is shutting down"));
    for (Slot* slot : idle_) doom_locked(slot);
    idle_.clear();
    service_cv_.notify_all();
  }
  const bool drained =
      state_cv_.wait_for(lock, timeout, [&] { return busy_ == 0 && checking_ == 0; });
  const std::size_t out = busy_;
  if (!services_stopped_) {
    stopping_services_ = true;
    service_cv_.notify_all();
    lock.unlock();
    for (std::jthread& t : service_threads_) t.join();
    lock.lock();
    services_stopped_ = true;
  }
  std::vector<std::unique_ptr<Slot>> leftovers = std::move(doomed_);
  doomed_.clear();
  destroyed_ += leftovers.size();
  lock.unlock();
  leftovers.clear();
  if (!drained) {
    return timeout_error("pool '" + options_.name + "': " + std::to_string(out) +
                         " lease(s) still out after " + std::to_string(timeout.count()) +
                         " ms; their instances are destroyed when released");
  }
  return {};
}

PoolSnapshot Pool::snapshot() const {
  PoolSnapshot s;
  {
    std::lock_guard lock(mu_);
    s.creating = creating_;
    s.idle = idle_.size();
    s.busy = busy_;
    s.checking = checking_;
    s.broken = doomed_.size();
    s.queue_length = waiters_->size;
    s.min_instances = options_.min_instances;
    s.max_instances = options_.max_instances;
    s.desired = desired_locked();
    s.budget_limited = budget_limited_;
    s.growth_refused = growth_refused_;
    s.reserved_bytes = reserved_bytes_;
    s.failed = failed_;
    s.shutting_down = shutting_down_;
    s.acquired = acquired_;
    s.timed_out = timed_out_;
    s.cancelled = cancelled_;
    s.rejected = rejected_;
    s.created = created_;
    s.creation_failures = creation_failures_;
    s.broken_total = broken_total_;
    s.replaced = replaced_;
    s.destroyed = destroyed_;
    s.model_failed = model_failed_;
    s.instances.reserve(making_.size() + slots_.size() + doomed_.size());
    for (const Making& m : making_) {
      s.instances.push_back({m.id,
                             m.replacing ? InstanceState::kRestarting
                             : m.warming ? InstanceState::kWarming
                                         : InstanceState::kCreating,
                             {}});
    }
    for (const auto& slot : slots_) {
      const InstanceState state = slot->state == Slot::State::kBusy       ? InstanceState::kBusy
                                  : slot->state == Slot::State::kChecking ? InstanceState::kChecking
                                                                          : InstanceState::kIdle;
      s.instances.push_back({slot->id, state, slot->label});
    }
    for (const auto& slot : doomed_)
      s.instances.push_back({slot->id, InstanceState::kBroken, slot->label});
  }
  std::sort(s.instances.begin(), s.instances.end(),
            [](const InstanceView& a, const InstanceView& b) { return a.id < b.id; });
  s.queue_wait = queue_wait_.snapshot();
  s.lease_hold = lease_hold_.snapshot();
  return s;
}

}  // namespace modelpool
