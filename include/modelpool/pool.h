// Pool: a bounded set of instances of one model, shared by many callers.
//
// Callers acquire an instance, use it exclusively through a Lease, and give it
// back when the Lease goes out of scope:
//
//   PoolOptions options;
//   options.min_instances = 2;
//   options.max_instances = 4;
//   auto pool = Pool::create(factory, options);
//   if (!pool.ok()) return pool.status();
//   Result<Lease> lease = (*pool)->acquire(Clock::now() + 500ms, stop_token);
//   if (!lease.ok()) return lease.status();   // timeout, cancelled, queue_full...
//   Status s = (*lease)->run(request, sink, stop_token);
//   if (s.code() == StatusCode::kInternal) lease->mark_broken(s.message());
//   // the instance returns to the pool here
//
// Rules the pool keeps:
//
//   * Strict FIFO with direct hand-off. Every acquire takes a ticket when it
//     arrives; instances are granted in ticket order. An instance that comes
//     back while callers wait goes to the oldest waiter; a newcomer never takes
//     an idle instance while anyone waits (no barging).
//   * Explicit outcomes: acquire returns a Lease or a Status with kTimeout,
//     kCancelled, kQueueFull (at once, when max_queue callers already wait),
//     kShuttingDown or kModelFailed (instance creation keeps failing).
//   * Nothing slow under the lock: creating, warming up, checking and
//     destroying instances run on the pool's service threads with the lock
//     released. The fast path (an idle instance, nobody waiting) takes one
//     uncontended mutex, makes no syscall and allocates nothing.
//   * Self-healing: a broken instance (Lease::mark_broken, or a failed
//     check()) is destroyed and replaced in the background; creation failures
//     back off exponentially, and after max_creation_failures in a row every
//     waiter that no live instance can serve gets kModelFailed instead of
//     hanging. The next acquire after the backoff retries.
//   * Size: eager pools create min_instances at start; lazy pools create on
//     first demand. Between min_instances and max_instances the pool
//     autoscales from its load (PoolOptions::Autoscale: requests running and
//     waiting per instance, with up- and down-scale delays), never past its
//     memory budget when it has one: growth the budget refuses is skipped
//     (counted, reported once through on_growth_refused) and the waiting
//     callers are served by the instances that exist. Scaling down destroys
//     idle instances only. resize() changes the bounds at run time.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/histogram.h"
#include "modelpool/memory_budget.h"
#include "modelpool/status.h"

namespace modelpool {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

// Makes one new instance. Called from the pool's service threads, possibly
// several at once; may be slow.
using InstanceFactory = std::function<Result<std::unique_ptr<Instance>>()>;

// Reported after each instance creation attempt (success or failure).
struct PoolProgress {
  std::size_t live = 0;      // instances that exist now (idle, busy or checking)
  std::size_t target = 0;    // instances the pool is working towards
  std::size_t failures = 0;  // consecutive creation failures
  Status last_error;         // the attempt's error, ok when it succeeded
  Clock::duration took{};    // the attempt: creation and warm-up
};

struct PoolOptions {
  std::string name = "pool";  // used in error messages
  std::size_t min_instances = 1;
  std::size_t max_instances = 1;
  // Eager: create min_instances at construction. Lazy: at first acquire.
  bool eager = true;
  // Callers allowed to wait at once; one more is rejected with kQueueFull.
  // 0 means no waiting at all: fail at once when no instance is idle.
  std::size_t max_queue = 1024;
  // Service threads: how many creations (and checks, destructions) may run
  // in parallel.
  std::size_t service_threads = 2;
  // Call Instance::warmup() on each new instance before it serves.
  bool warmup = true;
  // Run Instance::check() on an instance idle this long. 0 disables.
  std::chrono::milliseconds health_check_interval{0};
  // Autoscaling between min_instances and max_instances. The pool wants
  //   ceil((running + waiting) / target_ongoing_requests)
  // instances (plus those being checked), within the bounds. It grows once
  // it has wanted more than it has (or is making) for upscale_delay, and
  // shrinks, destroying idle instances only, once it has wanted fewer than
  // it has for downscale_delay. A pool with no instance, and a pool below
  // min_instances (a replacement included), grows at once.
  struct Autoscale {
    double target_ongoing_requests = 1.0;  // > 0
    std::chrono::milliseconds upscale_delay{0};
    std::chrono::milliseconds downscale_delay{0};  // 0: never shrink
  } autoscale;
  // Growth reserves each instance's bytes here first; a refusal above
  // min_instances skips that growth (retried every budget_retry while
  // wanted), below it counts as a creation failure. Null: no budget.
  std::shared_ptr<MemoryBudget> memory_budget;
  // What an instance is expected to cost before one reports it: the pool
  // reserves the larger of this and the most an instance of it reported
  // (Instance::bytes()), then holds what each instance reports.
  std::size_t instance_bytes = 0;
  std::chrono::milliseconds budget_retry{500};
  // Called (from a service thread, no lock held) when the budget refuses
  // growth after having allowed it, with the budget's error.
  std::function<void(const Status&)> on_growth_refused;
  // Delay after a creation failure: initial, doubling up to max.
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{10000};
  // Consecutive creation failures after which unserved waiters get
  // kModelFailed.
  std::size_t max_creation_failures = 3;
  // How long shutdown() waits for leases to come back.
  std::chrono::milliseconds drain_timeout{10000};
  // Called (from a service thread, no lock held) after each creation attempt.
  std::function<void(const PoolProgress&)> on_progress;
};

// What one instance of a pool is doing now (PoolSnapshot::instances).
enum class InstanceState {
  kCreating,    // the factory is making it
  kWarming,     // made; Instance::warmup() runs
  kRestarting,  // being made (or warmed up) to replace a broken instance
  kIdle,        // ready, not leased
  kBusy,        // leased
  kChecking,    // Instance::check() runs
  kBroken,      // out of service, waiting to be destroyed
};
// "creating", "warming", "restarting", "idle", "busy", "checking", "broken".
std::string_view instance_state_name(InstanceState state);

// One instance in a PoolSnapshot.
struct InstanceView {
  // The id Lease::instance_id() reports once the instance serves; an
  // instance keeps it from the start of its creation to its destruction.
  std::uint64_t id = 0;
  InstanceState state = InstanceState::kCreating;
  // Instance::label(), read once when the instance was made; empty until
  // then and for instances without one.
  std::string label;
};

// A point-in-time view for metrics and tests.
struct PoolSnapshot {
  // Instances by state. `creating` counts every instance being made:
  // those creating, warming and restarting in `instances`.
  std::size_t creating = 0;
  std::size_t idle = 0;
  std::size_t busy = 0;
  std::size_t checking = 0;
  std::size_t broken = 0;  // waiting to be destroyed
  std::size_t queue_length = 0;
  std::size_t min_instances = 0;
  std::size_t max_instances = 0;
  std::size_t desired = 0;  // what the autoscaler wants now, within the bounds
  // The memory budget refuses the growth the pool wants now.
  bool budget_limited = false;
  bool failed = false;  // creation is backing off after repeated failures
  bool shutting_down = false;
  // Counters since construction.
  std::uint64_t acquired = 0;
  std::uint64_t timed_out = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t rejected = 0;  // queue full
  std::uint64_t created = 0;
  std::uint64_t creation_failures = 0;
  std::uint64_t broken_total = 0;
  std::uint64_t replaced = 0;
  std::uint64_t destroyed = 0;
  std::uint64_t model_failed = 0;  // acquires answered with kModelFailed
  std::uint64_t growth_refused = 0;  // creations the memory budget refused
  std::size_t reserved_bytes = 0;    // held against the budget by its instances
  HistogramSnapshot queue_wait;
  HistogramSnapshot lease_hold;
  // Every instance, in the order of its id: those being made, the live ones
  // and the broken ones not yet destroyed. The counts above agree with it
  // (creating + idle + busy + checking + broken == instances.size()), as
  // both are read under the same lock.
  std::vector<InstanceView> instances;
};

class Lease;

class Pool {
 public:
  // Validates `options` (kInvalidArgument naming the bad field) and starts
  // the service threads; an eager pool starts creating min_instances.
  static Result<std::unique_ptr<Pool>> create(InstanceFactory factory, PoolOptions options);

  // shutdown(drain_timeout), then waits for any lease still out.
  // REQUIRES: leases are given back eventually (a Lease must not outlive its
  // Pool; the destructor blocks until it is released).
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Leases an instance, waiting in FIFO order until one is free, `deadline`
  // passes (kTimeout) or `stop` is requested (kCancelled). Fails at once with
  // kQueueFull, kShuttingDown or kModelFailed; see the file comment.
  Result<Lease> acquire(Deadline deadline = kNoDeadline, std::stop_token stop = {});

  // Leases an idle instance only if one is free and nobody waits; otherwise
  // kTimeout at once. Never waits, never triggers creation.
  Result<Lease> try_acquire();

  // Waits until min_instances exist (the pool is warm), creation has failed
  // max_creation_failures times (kModelFailed), the pool shuts down, or the
  // deadline passes. A lazy pool is ready at once.
  Status wait_ready(Deadline deadline = kNoDeadline);

  // Changes the size bounds. Growing creates instances up to the new min in
  // the background; shrinking destroys idle instances above the new max now
  // and busy ones when they come back.
  // Errors: kInvalidArgument when min > max or max == 0.
  Status resize(std::size_t min_instances, std::size_t max_instances);

  // Stops serving: every waiter and every later acquire gets kShuttingDown;
  // waits up to `timeout` for leases to come back, then stops the service
  // threads and destroys the instances. Idempotent. Returns kTimeout naming
  // how many leases were still out (they are destroyed when released).
  Status shutdown(std::chrono::milliseconds timeout);

  PoolSnapshot snapshot() const;
  const PoolOptions& options() const { return options_; }

 private:
  friend class Lease;
  struct Slot;
  struct Waiter;
  struct WaitList;
  // An instance being made: created, then warmed up, off the lock.
  struct Making {
    std::uint64_t id = 0;
    bool warming = false;
    bool replacing = false;  // replaces a broken instance
  };

  Pool(InstanceFactory factory, PoolOptions options);

  void release(Slot* slot);
  // Gives `slot` to the oldest waiter or makes it idle. REQUIRES: mu_ held.
  void place_locked(Slot* slot, Clock::time_point now);
  void grant_locked(Waiter* waiter, Slot* slot);
  void fail_waiters_locked(const Status& status);
  // Moves `slot` out of the live set for a service thread to destroy.
  void doom_locked(Slot* slot);
  std::size_t live_locked() const;
  std::size_t floor_locked() const;
  std::size_t desired_locked() const;
  // Notes when the load started to want more, or fewer, instances than
  // there are (the autoscaler's delays). REQUIRES: mu_ held.
  void track_load_locked();
  // A creation attempt failed (or the budget refused one below the floor):
  // backoff, and kModelFailed for waiters after too many. REQUIRES: mu_ held.
  void record_failure_locked(const Status& status, Clock::time_point now);
  void service_loop();
  void create_one(std::uint64_t id, MemoryReservation reservation);
  // Records that a creation starts and returns its id. REQUIRES: mu_ held.
  std::uint64_t begin_making_locked();
  void end_making_locked(std::uint64_t id);
  void check_one(Slot* slot);
  Lease make_lease_locked(Slot* slot, std::uint64_t ticket);

  const InstanceFactory factory_;
  PoolOptions options_;  // sizes guarded by mu_; the rest constant

  std::mutex lifecycle_mu_;  // serialises shutdown()
  mutable std::mutex mu_;
  std::condition_variable service_cv_;  // wakes service threads
  std::condition_variable state_cv_;    // readiness and drain
  // Guarded by mu_:
  std::vector<std::unique_ptr<Slot>> slots_;  // every live instance
  std::vector<Slot*> idle_;                   // LIFO: back is the warmest
  std::unique_ptr<WaitList> waiters_;
  std::vector<std::unique_ptr<Slot>> doomed_;  // to destroy, off the lock
  std::vector<Making> making_;                 // creations running now (creating_ of them)
  std::size_t busy_ = 0;
  std::size_t checking_ = 0;
  std::size_t creating_ = 0;
  std::size_t owed_replacements_ = 0;
  std::size_t consecutive_failures_ = 0;
  bool idle_timer_armed_ = false;  // a service thread will look at idle timers
  bool demanded_ = false;
  bool failed_ = false;
  Status last_failure_;
  Clock::time_point next_create_at_{};
  // Since when the load has wanted more (up) or fewer (down) instances than
  // there are; zero while it has not.
  Clock::time_point up_since_{};
  Clock::time_point down_since_{};
  Clock::time_point budget_retry_at_{};
  bool budget_limited_ = false;
  std::size_t learned_instance_bytes_ = 0;  // the most an instance reported
  std::size_t reserved_bytes_ = 0;
  bool shutting_down_ = false;
  bool stopping_services_ = false;
  bool services_stopped_ = false;
  std::uint64_t next_ticket_ = 1;
  std::uint64_t next_grant_ = 1;
  std::uint64_t next_instance_id_ = 1;
  std::uint64_t acquired_ = 0, timed_out_ = 0, cancelled_ = 0, rejected_ = 0, created_ = 0,
                creation_failures_ = 0, broken_total_ = 0, replaced_ = 0, destroyed_ = 0,
                model_failed_ = 0, growth_refused_ = 0;

  LatencyHistogram queue_wait_;  // lock-free
  LatencyHistogram lease_hold_;  // lock-free
  std::vector<std::jthread> service_threads_;
};

// Exclusive use of one instance. Move-only; gives the instance back when
// destroyed or on release(). An empty Lease (default-built, moved-from or
// released) owns nothing; using its instance terminates with a message.
class Lease {
 public:
  Lease() = default;
  ~Lease() { release(); }
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  explicit operator bool() const { return slot_ != nullptr; }

  // REQUIRES: non-empty.
  Instance& instance() const;
  Instance* operator->() const { return &instance(); }

  // The instance is unusable: when released it is destroyed and replaced in
  // the background instead of serving again. REQUIRES: non-empty.
  void mark_broken(std::string reason);

  // Gives the instance back now. Safe to call twice (the second does nothing).
  void release();

  // Arrival order of the acquire that produced this lease, and the order in
  // which the pool granted it. The pool grants in ticket order (FIFO).
  std::uint64_t ticket() const { return ticket_; }
  std::uint64_t grant_sequence() const { return grant_; }
  // Stable id of the leased instance (distinct for every instance created).
  std::uint64_t instance_id() const;

 private:
  friend class Pool;
  Lease(Pool* pool, Pool::Slot* slot, std::uint64_t ticket, std::uint64_t grant)
      : pool_(pool), slot_(slot), ticket_(ticket), grant_(grant) {}

  Pool* pool_ = nullptr;
  Pool::Slot* slot_ = nullptr;
  std::uint64_t ticket_ = 0;
  std::uint64_t grant_ = 0;
};

}  // namespace modelpool
