#include "backends/llama/batch_engine.h"

#include <numeric>

namespace modelpool::llama {

Result<std::unique_ptr<BatchEngine>> BatchEngine::create(
    std::shared_ptr<const LlamaWeights> weights, const BatchEngineOptions& options) {
  if (options.context < options.slots * 8) {
    return invalid_argument_error("context (" + std::to_string(options.context) +
                                  ") is too small for " + std::to_string(options.slots) + " slots");
  }
  // llama.cpp caps a decoding call at the context it was asked for
  // (n_batch = min(n_batch, n_ctx), before it rounds each sequence's share
  // up to 256 cells); the scheduler must plan steps with the same cap, or a
  // full step of prompt chunks trips llama_decode's assertion.
  BatchEngineOptions capped = options;
  capped.batch = std::max(options.slots, std::min(options.batch, options.context));
  std::unique_ptr<BatchEngine> e(new BatchEngine(std::move(weights), capped));
  // The scheduler checks slots, batch and prefill_chunk; it calls the
  // engine only for items, and there are none before create() returns.
  BatchSchedulerOptions so;
  so.slots = options.slots;
  so.batch = capped.batch;
  so.prefill_chunk = options.prefill_chunk;
  so.step_delay = options.step_delay;
  auto scheduler = BatchScheduler::create(*e, so);
  if (!scheduler.ok()) return scheduler.status();
  e->scheduler_ = std::move(*scheduler);
  llama_context_params p = llama_context_default_params();
  p.n_ctx = static_cast<uint32_t>(options.context);
  p.n_batch = p.n_ubatch = static_cast<uint32_t>(capped.batch);
  p.n_seq_max = static_cast<uint32_t>(options.slots);
  p.kv_unified = false;  // each sequence its own context / slots cells, as llama-server
  p.n_threads = p.n_threads_batch = static_cast<int32_t>(options.threads);
  p.no_perf = true;
  auto ctx = create_context(e->weights_->model(), p, &e->buffers_);
  if (!ctx.ok()) return ctx.status();
  e->ctx_ = *ctx;
  e->sequence_tokens_ = llama_n_ctx_seq(e->ctx_);
  e->batch_ = llama_batch_init(static_cast<int32_t>(capped.batch), 0, 1);
  e->kv_cells_.assign(options.slots, 0);
  return e;
}

BatchEngine::~BatchEngine() {
  scheduler_.reset();  // no step runs past here
  if (batch_.token != nullptr) llama_batch_free(batch_);
  if (ctx_ != nullptr) llama_free(ctx_);
}

Result<GenerationResult> BatchEngine::run(const GenerationRequest& request, PreparedPrompt prompt,
                                          Clock::time_point t0, Deadline deadline,
                                          std::stop_token stop) {
  Sequence sequence(*weights_, request, std::move(prompt), sequence_tokens_, t0);
  if (Status s = scheduler_->run(sequence, deadline, std::move(stop)); !s.ok()) return s;
  return sequence.take_result();
}

Status BatchEngine::step(std::span<const StepEntry> entries) {
  batch_.n_tokens = 0;
  output_index_.assign(entries.size(), -1);
  std::size_t decoding = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& s = static_cast<Sequence&>(*entries[i].item);
    const llama_seq_id seq = entries[i].slot;
    if (entries[i].prefill == 0) {
      output_index_[i] = batch_.n_tokens;
      add_to_batch(batch_, s.pending_token(), s.next_pos(), seq, true);
      s.mark_pending_fed();
      ++decoding;
      continue;
    }
    for (std::size_t k = 0; k < entries[i].prefill; ++k) {
      const std::size_t at = s.prefilled() + k;
      const bool last = at + 1 == s.prompt().size();
      if (last) output_index_[i] = batch_.n_tokens;
      add_to_batch(batch_, s.prompt()[at], static_cast<llama_pos>(at), seq, last);
    }
  }

  const Clock::time_point start = Clock::now();
  const int rc = llama_decode(ctx_, batch_);
  meter_.record(decoding, static_cast<std::size_t>(batch_.n_tokens) - decoding,
                Clock::now() - start);
  if (rc != 0) return internal_error("llama_decode failed (" + std::to_string(rc) + ")");

  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& s = static_cast<Sequence&>(*entries[i].item);
    s.advance_prefill(entries[i].prefill);
    if (output_index_[i] >= 0) s.on_logits(ctx_, output_index_[i]);
    kv_cells_[static_cast<std::size_t>(entries[i].slot)] =
        s.finished() ? 0 : static_cast<std::size_t>(s.next_pos());
  }
  publish_kv_used();
  return {};
}

void BatchEngine::release(int slot) {
  llama_memory_seq_rm(llama_get_memory(ctx_), slot, -1, -1);
  kv_cells_[static_cast<std::size_t>(slot)] = 0;
  publish_kv_used();
}

void BatchEngine::publish_kv_used() {
  meter_.set_kv_used(std::accumulate(kv_cells_.begin(), kv_cells_.end(), std::size_t{0}));
}

}  // namespace modelpool::llama
