#include "backends/llama/batch_engine.h"

#include <algorithm>

namespace modelpool::llama {

// One submitted generation. Lives on the caller's stack inside run().
struct BatchEngine::Job {
  int seq = 0;
  std::unique_ptr<Sequence> sequence;
  std::atomic<bool> cancel{false};
  // Guarded by BatchEngine::mu_:
  bool done = false;
  Status status;
  std::condition_variable done_cv;
};

Result<std::unique_ptr<BatchEngine>> BatchEngine::create(
    std::shared_ptr<const LlamaWeights> weights, const BatchEngineOptions& options) {
  if (options.slots == 0) return invalid_argument_error("slots must be >= 1");
  if (options.batch < options.slots) {
    return invalid_argument_error("batch (" + std::to_string(options.batch) +
                                  ") must be >= slots (" + std::to_string(options.slots) + ")");
  }
  if (options.context < options.slots * 8) {
    return invalid_argument_error("context (" + std::to_string(options.context) +
                                  ") is too small for " + std::to_string(options.slots) + " slots");
  }
  std::unique_ptr<BatchEngine> e(new BatchEngine(std::move(weights), options));
  e->seq_used_.assign(options.slots, false);
  llama_context_params p = llama_context_default_params();
  p.n_ctx = static_cast<uint32_t>(options.context);
  p.n_batch = p.n_ubatch = static_cast<uint32_t>(options.batch);
  p.n_seq_max = static_cast<uint32_t>(options.slots);
  p.kv_unified = false;  // each sequence its own context / slots cells, as llama-server
  p.n_threads = p.n_threads_batch = static_cast<int32_t>(options.threads);
  p.no_perf = true;
  auto ctx = create_context(e->weights_->model(), p, &e->buffers_);
  if (!ctx.ok()) return ctx.status();
  e->ctx_ = *ctx;
  e->sequence_tokens_ = llama_n_ctx_seq(e->ctx_);
  e->batch_ = llama_batch_init(static_cast<int32_t>(options.batch), 0, 1);
  e->running_.reserve(options.slots);
  e->thread_ = std::thread([raw = e.get()] { raw->loop(); });
  return e;
}

BatchEngine::~BatchEngine() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (batch_.token != nullptr) llama_batch_free(batch_);
  if (ctx_ != nullptr) llama_free(ctx_);
}

Result<GenerationResult> BatchEngine::run(const GenerationRequest& request,
                                          PreparedPrompt prompt, Clock::time_point t0,
                                          std::stop_token stop) {
  Job job;
  job.sequence = std::make_unique<Sequence>(*weights_, request, std::move(prompt),
                                            sequence_tokens_, t0);
  {
    std::lock_guard lock(mu_);
    submitted_.push_back(&job);
  }
  work_cv_.notify_one();
  {
    // The loop looks at `cancel` at the start of every step.
    std::stop_callback on_stop(stop, [&] {
      job.cancel.store(true);
      work_cv_.notify_one();
    });
    std::unique_lock lock(mu_);
    job.done_cv.wait(lock, [&] { return job.done; });
  }
  if (!job.status.ok()) return job.status;
  return job.sequence->take_result();
}

void BatchEngine::finish_job(Job* job, Status status) {
  llama_memory_seq_rm(llama_get_memory(ctx_), job->seq, -1, -1);
  seq_used_[static_cast<std::size_t>(job->seq)] = false;
  std::lock_guard lock(mu_);
  job->status = std::move(status);
  job->done = true;
  job->done_cv.notify_one();  // under mu_: the job dies once its caller wakes
}

std::chrono::milliseconds BatchEngine::stalled_for() const {
  if (!has_work_.load()) return std::chrono::milliseconds(0);
  const auto now = Clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      now - std::chrono::nanoseconds(last_beat_ns_.load()));
}

void BatchEngine::loop() {
  auto beat = [this] { last_beat_ns_.store(Clock::now().time_since_epoch().count()); };
  beat();
  // Where each running sequence's output lands in the batch (-1: none).
  std::vector<int32_t> output_index;
  std::vector<std::size_t> prefill_taken;
  std::vector<std::size_t> by_seq;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (running_.empty() && submitted_.empty()) {
        meter_.set_kv_used(0);
        has_work_ = false;
        beat();
      }
      work_cv_.wait(lock, [&] { return stopping_ || !submitted_.empty() || !running_.empty(); });
      if (!has_work_.load()) beat();
      has_work_ = true;
      if (stopping_ && running_.empty() && submitted_.empty()) return;
      while (!submitted_.empty()) {
        Job* job = submitted_.front();
        submitted_.pop_front();
        // The lowest free sequence id: llama.cpp puts only consecutive ids
        // in one micro-batch, so compact ids keep a step in one matmul.
        const auto free = std::find(seq_used_.begin(), seq_used_.end(), false);
        if (free == seq_used_.end()) {
          job->status = internal_error("no free sequence slot (more callers than slots)");
          job->done = true;
          job->done_cv.notify_one();
          continue;
        }
        *free = true;
        job->seq = static_cast<int>(free - seq_used_.begin());
        running_.push_back(job);
      }
    }

    // Cancelled sequences leave before the step, freeing their cells.
    for (auto it = running_.begin(); it != running_.end();) {
      Job* job = *it;
      if (job->cancel.load()) {
        job->sequence->finish(FinishReason::kCancelled);
        it = running_.erase(it);
        finish_job(job, {});
      } else {
        ++it;
      }
    }
    if (running_.empty()) continue;

    // Prompt tokens go to the oldest sequences first, capped while others
    // decode; then the batch is laid out in sequence-id order.
    output_index.assign(running_.size(), -1);
    prefill_taken.assign(running_.size(), 0);
    std::size_t decoding = 0;
    for (Job* job : running_) {
      if (job->sequence->prefill_done()) ++decoding;
    }
    // While some sequences decode, each prefilling one brings at most
    // prefill_chunk prompt tokens into the step: one long prompt cannot stall
    // many streams, and a burst of new prompts still fills the batch.
    std::size_t budget = options_.batch - decoding;
    if (decoding > 0) {
      budget = std::min(budget, options_.prefill_chunk * (running_.size() - decoding));
    }
    for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
      const Sequence& s = *running_[i]->sequence;
      if (s.prefill_done()) continue;
      prefill_taken[i] = std::min(budget, s.prompt().size() - s.prefilled());
      budget -= prefill_taken[i];
    }
    by_seq.resize(running_.size());
    for (std::size_t i = 0; i < by_seq.size(); ++i) by_seq[i] = i;
    std::sort(by_seq.begin(), by_seq.end(),
              [&](std::size_t a, std::size_t b) { return running_[a]->seq < running_[b]->seq; });
    batch_.n_tokens = 0;
    for (std::size_t i : by_seq) {
      Sequence& s = *running_[i]->sequence;
      const llama_seq_id seq = running_[i]->seq;
      if (s.prefill_done()) {
        output_index[i] = batch_.n_tokens;
        add_to_batch(batch_, s.pending_token(), s.next_pos(), seq, true);
        s.mark_pending_fed();
        continue;
      }
      if (prefill_taken[i] > 0) s.mark_started();
      for (std::size_t k = 0; k < prefill_taken[i]; ++k) {
        const std::size_t at = s.prefilled() + k;
        const bool last = at + 1 == s.prompt().size();
        if (last) output_index[i] = batch_.n_tokens;
        add_to_batch(batch_, s.prompt()[at], static_cast<llama_pos>(at), seq, last);
      }
    }
    if (batch_.n_tokens == 0) continue;

    if (options_.step_delay.count() > 0) std::this_thread::sleep_for(options_.step_delay);
    const Clock::time_point start = Clock::now();
    const int rc = llama_decode(ctx_, batch_);
    meter_.record(decoding, static_cast<std::size_t>(batch_.n_tokens) - decoding,
                  Clock::now() - start);
    beat();
    if (rc != 0) {
      // The whole step failed: every sequence in it ends with the error.
      for (Job* job : running_) {
        finish_job(job, internal_error("llama_decode failed (" + std::to_string(rc) + ")"));
      }
      running_.clear();
      continue;
    }
    for (std::size_t i = 0; i < running_.size(); ++i) {
      Sequence& s = *running_[i]->sequence;
      s.advance_prefill(prefill_taken[i]);
      if (output_index[i] >= 0) s.on_logits(ctx_, output_index[i]);
    }
    std::size_t cells = 0;
    for (auto it = running_.begin(); it != running_.end();) {
      Job* job = *it;
      if (job->sequence->finished()) {
        it = running_.erase(it);
        finish_job(job, {});
      } else {
        cells += static_cast<std::size_t>(job->sequence->next_pos());
        ++it;
      }
    }
    meter_.set_kv_used(cells);
  }
}

}  // namespace modelpool::llama
