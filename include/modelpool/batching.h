// Continuous batching, whatever the engine: one engine steps many requests
// together, and a request joins or leaves between two steps.
//
// Three parts:
//
//   BatchItem       one request's engine-side state (for an LLM: the prompt
//                   tokens still to feed, the sampler, the text so far).
//   StepEngine      the engine: runs one step over a list of entries and
//                   forgets the state of a slot whose item left.
//   BatchScheduler  owns the loop thread and the rules that are not the
//                   engine's: who takes part in the next step, with how many
//                   units, and when an item leaves.
//
//   MyEngine engine;                                 // a StepEngine
//   auto scheduler = BatchScheduler::create(engine, options);
//   MyItem item(request);                            // a BatchItem
//   Status s = (*scheduler)->run(item, deadline, stop);   // blocks
//
// The rules the scheduler keeps:
//
//   * Admission at the next step, in arrival order: a run() joins the items
//     already running before the next step, not when the batch drains. It
//     takes the lowest free slot (an index in [0, slots)): an engine that
//     groups consecutive ids (llama.cpp's micro-batches) keeps a step in one
//     piece when ids stay compact. The engine sees each admitted item
//     (StepEngine::admit) before the step is planned.
//   * Held items (BatchItem::held) take no part in steps until the engine
//     lets them go.
//   * Leaving: an item leaves as soon as it is finished(), its caller's stop
//     token fires or its deadline passes. The check runs before every step,
//     so a stopped item is out within one step; its slot is released to the
//     engine at once and the next run() may take it.
//   * The step's units: every decoding item (no prefill pending) brings one
//     unit. Prompt units go to the prefilling items, oldest first. While some
//     items decode, a step carries at most a chunk of prompt units per
//     prefilling item in all (and never more than batch minus the decoding
//     ones), so a long prompt is spread over steps instead of stalling every
//     stream, while a burst of new prompts still fills the step. The chunk
//     comes from a cost model of the engine learned from the steps that ran
//     (StepCostModel, step_cost.h): as many prompt units as keep the step
//     within prefill_stall times a step of the same decoding items alone;
//     until the model has seen enough steps it is prefill_chunk. That holds
//     while the decoding items are at least as many as the prefilling ones;
//     when more prompts wait than items decode (a burst of arrivals),
//     prompts fill the step. With prefill_stall 0 the chunk is always
//     prefill_chunk. With nothing decoding, prompts get the whole batch.
//     Entries reach the engine in slot order.
//   * A failed step ends every running item with the step's error.
//   * The heartbeat: stalled_for() says how long the loop has had work
//     without finishing a step (a liveness probe reads it).
//
// Thread safety: run(), waiting() and stalled_for() may be called from any
// thread. BatchItem and StepEngine methods are called on the scheduler's
// loop thread only (never two at once), until run() returns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <stop_token>
#include <thread>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/status.h"
#include "modelpool/step_cost.h"

namespace modelpool {

// One request's state on the engine's side. Owned by the caller of
// BatchScheduler::run(); read and changed on the loop thread until run()
// returns.
class BatchItem {
 public:
  virtual ~BatchItem() = default;

  // Prompt units (an LLM: prompt tokens) not yet given to the engine. Zero
  // once the item decodes: then each step it takes part in carries one unit.
  virtual std::size_t prefill_pending() const = 0;

  // True once the item needs no more steps (the engine decided it: end of
  // generation, a length limit, a consumer gone). Read after every step.
  virtual bool finished() const = 0;

  // Ends the item now, keeping what it produced so far: its caller stopped
  // it or its deadline passed. Called between steps, at most once.
  virtual void finish_now() = 0;

  // The engine starts on the item: its time in the queue ends here. Called
  // once, just before the first step the item takes part in.
  virtual void mark_started() = 0;

  // True while the engine holds the item out of the steps: it waits for
  // work another running item is doing for it (an LLM: a prompt prefix the
  // other is computing, to be copied instead of computed twice). A held
  // item keeps its slot and still leaves when stopped or at its deadline.
  virtual bool held() const { return false; }
};

// One item's part in a step.
struct StepEntry {
  BatchItem* item = nullptr;
  // The item's slot, in [0, slots): what the engine keys the item's state
  // on (llama.cpp: the sequence id). Constant while the item runs.
  int slot = 0;
  // Prompt units to feed in this step (at most item->prefill_pending());
  // 0: the item decodes one unit.
  std::size_t prefill = 0;
};

// The engine's side of continuous batching.
class StepEngine {
 public:
  virtual ~StepEngine() = default;

  // Runs one step over `entries` (in slot order, one per slot, at most
  // `batch` units in all). On success every item has moved on: its
  // prefill_pending() fell by the entry's `prefill`, and it may now be
  // finished(). An error means the whole step failed; the scheduler then
  // ends every running item with it.
  virtual Status step(std::span<const StepEntry> entries) = 0;

  // `item` took `slot` and takes part from the next step on. The engine may
  // move its prefill on here (a cache supplies part of its prompt) or hold
  // it (BatchItem::held). An engine that holds items keeps at least one
  // running item that is not held while any is, and releases the held ones
  // (in step() or release()) when what they wait for is done or gone.
  // Called once per item, on the loop thread, with no lock held.
  virtual void admit(BatchItem& item, int slot) {
    (void)item;
    (void)slot;
  }

  // Forgets what `slot` holds: its item left (finished, stopped, timed out
  // or failed), and the slot may be given to another item at the next
  // step. Called once per item, also for one that never took part in a
  // step.
  virtual void release(int slot) = 0;
};

struct BatchSchedulerOptions {
  // Items that run at once (slots 0 .. slots-1). >= 1.
  std::size_t slots = 8;
  // Most units one step carries. >= slots (every decoding item brings one).
  std::size_t batch = 512;
  // While some items decode: prompt units a step takes per prefilling item
  // when the cost model does not decide it (see the file comment). >= 1.
  std::size_t prefill_chunk = 64;
  // While some items decode: a step with prompt units may take this many
  // times as long as the same decoding step alone, by the cost model. The
  // slowest gap a decoding item sees is about this ratio of its usual time
  // per unit. 0: always prefill_chunk. 0 or >= 1.
  double prefill_stall = 2.0;
  // Fault injection (tests): every step also sleeps this long, as a wedged
  // engine would, so that stalled_for() can be seen to grow.
  std::chrono::milliseconds step_delay{0};
};

class BatchScheduler {
 public:
  // Starts the loop thread over `engine`. kInvalidArgument naming the field
  // when the options break a rule above. REQUIRES: `engine` outlives the
  // scheduler.
  static Result<std::unique_ptr<BatchScheduler>> create(StepEngine& engine,
                                                        const BatchSchedulerOptions& options);

  // Stops and joins the loop thread. REQUIRES: no run() in progress.
  ~BatchScheduler();
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Runs `item` until it leaves; blocks. Returns:
  //   ok         the item finished, or `stop` fired (finish_now() was
  //              called within one step);
  //   kTimeout   `deadline` passed while it ran (finish_now() was called);
  //   the step's error when a step it was running in failed;
  //   kInternal  more than `slots` run() calls at once.
  // The engine holds no state for the item once run() returns.
  // REQUIRES: at most `slots` callers at once (a Pool of slots in front
  // admits them with its own queue, deadlines and limits).
  Status run(BatchItem& item, Deadline deadline, std::stop_token stop);

  // run() calls that have not joined yet: they take part in the next step.
  std::size_t waiting() const;

  // How long the loop has had items without finishing a step; zero while
  // it has none. A step that never returns makes it grow without bound.
  std::chrono::milliseconds stalled_for() const;

  const BatchSchedulerOptions& options() const { return options_; }
  // The cost model learned so far. Read it only while no run() is in
  // progress (it belongs to the loop thread).
  const StepCostModel& cost_model() const { return cost_; }

 private:
  struct Job;
  BatchScheduler(StepEngine& engine, const BatchSchedulerOptions& options);
  void loop();
  // Moves the submitted jobs into running_, each with the lowest free slot.
  void admit_locked();
  // Removes stopped and timed-out jobs (and any already finished).
  void drop_leaving();
  // Lays out the next step in entries_. REQUIRES: running_ not empty.
  void plan_step();
  // Releases the job's slot to the engine and wakes its caller.
  void finish_job(Job* job, Status status);
  void beat();

  StepEngine& engine_;
  const BatchSchedulerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the loop waits here for jobs
  std::deque<Job*> submitted_;       // guarded by mu_
  bool stopping_ = false;            // guarded by mu_

  // The loop thread's own:
  std::vector<Job*> running_;  // in admission order (oldest first)
  std::vector<bool> slot_used_;
  std::vector<StepEntry> entries_;  // the step being planned, in slot order
  std::size_t planned_decode_ = 0, planned_prompt_ = 0;  // the planned step's units
  StepCostModel cost_;

  // Heartbeat: when the loop last finished a step or took on work after
  // being idle (steady-clock nanoseconds), and whether it has work now.
  std::atomic<std::int64_t> last_beat_ns_{0};
  std::atomic<bool> has_work_{false};
  std::thread thread_;
};

}  // namespace modelpool
