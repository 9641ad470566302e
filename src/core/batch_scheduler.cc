// BatchScheduler: the loop of continuous batching (include/modelpool/batching.h).
#include <algorithm>
#include <string>
#include <utility>

#include "modelpool/batching.h"

namespace modelpool {

// One run() call. Lives on the caller's stack until run() returns.
struct BatchScheduler::Job {
  Job(BatchItem* item, Deadline deadline, std::stop_token stop)
      : item(item), deadline(deadline), stop(std::move(stop)) {}

  BatchItem* const item;
  const Deadline deadline;
  const std::stop_token stop;
  // The loop thread's own, once admitted:
  int slot = -1;
  bool started = false;
  // Guarded by BatchScheduler::mu_:
  bool done = false;
  Status status;
  std::condition_variable done_cv;
};

Result<std::unique_ptr<BatchScheduler>> BatchScheduler::create(
    StepEngine& engine, const BatchSchedulerOptions& options) {
  if (options.slots == 0) return invalid_argument_error("slots must be >= 1");
  if (options.batch < options.slots) {
    return invalid_argument_error("batch (" + std::to_string(options.batch) +
                                  ") must be >= slots (" + std::to_string(options.slots) + ")");
  }
  if (options.prefill_chunk == 0) return invalid_argument_error("prefill_chunk must be >= 1");
  if (!(options.prefill_stall == 0 || options.prefill_stall >= 1)) {
    return invalid_argument_error("prefill_stall must be 0 (off) or >= 1");
  }
  std::unique_ptr<BatchScheduler> s(new BatchScheduler(engine, options));
  s->thread_ = std::thread([raw = s.get()] { raw->loop(); });
  return s;
}

BatchScheduler::BatchScheduler(StepEngine& engine, const BatchSchedulerOptions& options)
    : engine_(engine), options_(options) {
  slot_used_.assign(options.slots, false);
  running_.reserve(options.slots);
  entries_.reserve(options.slots);
}

BatchScheduler::~BatchScheduler() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status BatchScheduler::run(BatchItem& item, Deadline deadline, std::stop_token stop) {
  Job job(&item, deadline, std::move(stop));
  {
    std::lock_guard lock(mu_);
    submitted_.push_back(&job);
  }
  work_cv_.notify_one();
  // The loop looks at the stop token and the deadline before every step;
  // it never sleeps while it has items, so no wake-up is needed for them.
  std::unique_lock lock(mu_);
  job.done_cv.wait(lock, [&] { return job.done; });
  return std::move(job.status);
}

std::size_t BatchScheduler::waiting() const {
  std::lock_guard lock(mu_);
  return submitted_.size();
}

std::chrono::milliseconds BatchScheduler::stalled_for() const {
  if (!has_work_.load()) return std::chrono::milliseconds(0);
  const auto now = Clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      now - std::chrono::nanoseconds(last_beat_ns_.load()));
}

void BatchScheduler::beat() {
  last_beat_ns_.store(Clock::now().time_since_epoch().count());
}

void BatchScheduler::loop() {
  beat();
  for (;;) {
    std::size_t first_admitted = 0;
    {
      std::unique_lock lock(mu_);
      if (running_.empty() && submitted_.empty() && has_work_.load()) {
        has_work_.store(false);
        beat();
      }
      work_cv_.wait(lock, [&] { return stopping_ || !submitted_.empty() || !running_.empty(); });
      if (stopping_ && running_.empty() && submitted_.empty()) return;
      if (!has_work_.load()) {
        beat();  // before has_work_: stalled_for() never sees an old beat
        has_work_.store(true);
      }
      first_admitted = running_.size();
      admit_locked();
    }
    // The engine sees the newcomers outside the lock (a cache lookup may
    // copy state).
    for (std::size_t i = first_admitted; i < running_.size(); ++i) {
      engine_.admit(*running_[i]->item, running_[i]->slot);
    }
    drop_leaving();
    if (running_.empty()) continue;

    plan_step();
    if (options_.step_delay.count() > 0) std::this_thread::sleep_for(options_.step_delay);
    const Clock::time_point started = Clock::now();
    const Status status = engine_.step(entries_);
    beat();
    cost_.record(planned_decode_, planned_prompt_,
                 std::chrono::duration<double>(Clock::now() - started).count());
    if (!status.ok()) {
      for (Job* job : running_) finish_job(job, status);
      running_.clear();
      continue;
    }
    drop_leaving();
  }
}

void BatchScheduler::admit_locked() {
  while (!submitted_.empty()) {
    Job* job = submitted_.front();
    submitted_.pop_front();
    // The lowest free slot: llama.cpp puts only consecutive sequence ids in
    // one micro-batch, so compact ids keep a step in one matmul.
    const auto free = std::find(slot_used_.begin(), slot_used_.end(), false);
    if (free == slot_used_.end()) {
      job->status = internal_error("no free batch slot (more callers than slots)");
      job->done = true;
      job->done_cv.notify_one();
      continue;
    }
    *free = true;
    job->slot = static_cast<int>(free - slot_used_.begin());
    running_.push_back(job);
  }
}

void BatchScheduler::drop_leaving() {
  const Clock::time_point now = Clock::now();
  for (auto it = running_.begin(); it != running_.end();) {
    Job* job = *it;
    Status status;
    if (job->item->finished()) {
      // Leaves with what it made.
    } else if (job->stop.stop_requested()) {
      job->item->finish_now();
    } else if (now >= job->deadline) {
      job->item->finish_now();
      status = timeout_error("the deadline passed during generation");
    } else {
      ++it;
      continue;
    }
    it = running_.erase(it);
    finish_job(job, std::move(status));
  }
}

void BatchScheduler::plan_step() {
  // Held items sit the step out, unless all are held: the engine promises
  // that never happens, and a loop with nothing to step would never end.
  const bool honour_held = std::any_of(running_.begin(), running_.end(),
                                       [](const Job* job) { return !job->item->held(); });
  auto sits_out = [&](const Job* job) { return honour_held && job->item->held(); };
  std::size_t decoding = 0, prefilling = 0;
  for (const Job* job : running_) {
    if (sits_out(job)) continue;
    if (job->item->prefill_pending() == 0) {
      ++decoding;
    } else {
      ++prefilling;
    }
  }
  // While some items decode, prefilling ones bring at most prefill_chunk
  // prompt units each into the step (in all, the oldest first): one long
  // prompt cannot stall many streams, and a burst of new prompts still
  // fills the step.
  std::size_t budget = options_.batch - decoding;
  if (decoding > 0 && options_.prefill_stall > 0) {
    // Fair to the decoding items while they are at least as many as the
    // prompts waiting; a burst of new prompts (more waiting than decoding)
    // fills the step, as most of the callers are the ones waiting.
    if (decoding >= prefilling) {
      const auto fair = cost_.prompt_budget(decoding, options_.prefill_stall);
      budget = std::min(budget, fair ? *fair * prefilling : options_.prefill_chunk * prefilling);
    }
  } else if (decoding > 0) {
    budget = std::min(budget, options_.prefill_chunk * prefilling);
  }
  entries_.clear();
  planned_decode_ = decoding;
  planned_prompt_ = 0;
  for (Job* job : running_) {
    if (sits_out(job)) continue;
    const std::size_t pending = job->item->prefill_pending();
    const std::size_t prefill = std::min(budget, pending);
    if (pending > 0 && prefill == 0) continue;  // no room left this step
    budget -= prefill;
    planned_prompt_ += prefill;
    if (!job->started) {
      job->started = true;
      job->item->mark_started();
    }
    entries_.push_back({job->item, job->slot, prefill});
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const StepEntry& a, const StepEntry& b) { return a.slot < b.slot; });
}

void BatchScheduler::finish_job(Job* job, Status status) {
  engine_.release(job->slot);
  slot_used_[static_cast<std::size_t>(job->slot)] = false;
  std::lock_guard lock(mu_);
  job->status = std::move(status);
  job->done = true;
  job->done_cv.notify_one();  // under mu_: the job dies once its caller wakes
}

}  // namespace modelpool
