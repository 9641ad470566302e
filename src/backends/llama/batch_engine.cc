#include "backends/llama/batch_engine.h"

#include <algorithm>
#include <numeric>
#include <string>

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
  so.prefill_stall = options.prefill_stall;
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
  e->sequence_of_.assign(options.slots, nullptr);
  e->step_failed_.assign(options.slots, false);
  e->prompt_hashes_.resize(options.slots);
  e->held_for_.assign(options.slots, -1);
  if (options.prefix_cache) {
    // No step runs before create() returns: the context is this thread's.
    auto prefix = ContextPrefixCache::create(options.prefix_cache, e->ctx_,
                                             llama_vocab_bos(e->weights_->vocab()));
    if (prefix.ok()) {
      e->prefix_ = std::move(*prefix);
    } else {
      e->prefix_cache_off_ = prefix.status().message();
    }
  }
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
    if (s.held()) {
      // Planned although held (the scheduler's safety net): it computes
      // its prompt itself.
      s.set_held(false);
      held_for_[static_cast<std::size_t>(seq)] = -1;
    }
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
  if (rc != 0) {
    for (const StepEntry& e : entries) step_failed_[static_cast<std::size_t>(e.slot)] = true;
    return internal_error("llama_decode failed (" + std::to_string(rc) + ")");
  }

  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& s = static_cast<Sequence&>(*entries[i].item);
    const int slot = entries[i].slot;
    s.advance_prefill(entries[i].prefill);
    if (output_index_[i] >= 0) s.on_logits(ctx_, output_index_[i]);
    kv_cells_[static_cast<std::size_t>(slot)] = static_cast<std::size_t>(s.next_pos());
    if (prefix_ && s.cache_prompt() && entries[i].prefill > 0 && s.prefill_done()) {
      // The prompt is done: cached at once when slots are held for it,
      // else by the cache's writer (the loop pays only the copy).
      if (std::find(held_for_.begin(), held_for_.end(), slot) != held_for_.end()) {
        prefix_->save(slot, s.prompt());
      } else {
        prefix_->save_later(slot, s.prompt());
      }
      end_computing(slot);
    }
  }
  publish_kv_used();
  return {};
}

void BatchEngine::admit(BatchItem& item, int slot) {
  auto& s = static_cast<Sequence&>(item);
  const auto i = static_cast<std::size_t>(slot);
  sequence_of_[i] = &s;
  step_failed_[i] = false;
  held_for_[i] = -1;
  if (!prefix_ || !s.cache_prompt()) return;
  prompt_hashes_[i] = prefix_->prompt_hashes(s.prompt());
  start_from_cache(slot);
}

void BatchEngine::start_from_cache(int slot) {
  const auto i = static_cast<std::size_t>(slot);
  Sequence& s = *sequence_of_[i];
  const std::vector<BlockHash>& hashes = prompt_hashes_[i];
  const std::size_t have = prefix_->cache().cached_blocks(s.prompt(), hashes);
  if (have < hashes.size()) {
    const auto it = computing_.find(hashes[have]);
    if (it != computing_.end() && it->second != slot) {
      held_for_[i] = it->second;
      s.set_held(true);
      return;
    }
  }
  held_for_[i] = -1;
  s.set_held(false);
  const std::size_t restored = prefix_->restore(slot, s.prompt(), hashes);
  s.take_cached(restored);
  kv_cells_[i] = restored;
  for (std::size_t b = restored / prefix_->block_tokens(); b < hashes.size(); ++b) {
    computing_.emplace(hashes[b], slot);
  }
}

void BatchEngine::end_computing(int slot) {
  std::erase_if(computing_, [slot](const auto& entry) { return entry.second == slot; });
  for (std::size_t w = 0; w < held_for_.size(); ++w) {
    if (held_for_[w] == slot) start_from_cache(static_cast<int>(w));
  }
}

void BatchEngine::release(int slot) {
  const auto i = static_cast<std::size_t>(slot);
  Sequence* s = sequence_of_[i];
  if (prefix_ && s != nullptr && s->cache_prompt()) {
    // What it computed, generated tokens included: a conversation's next
    // turn resends them.
    if (!step_failed_[i] && !s->held()) prefix_->save_later(slot, s->tokens_with_kv());
    sequence_of_[i] = nullptr;  // not started again by end_computing
    held_for_[i] = -1;
    end_computing(slot);
  }
  sequence_of_[i] = nullptr;
  held_for_[i] = -1;
  prompt_hashes_[i].clear();
  llama_memory_seq_rm(llama_get_memory(ctx_), slot, -1, -1);
  kv_cells_[i] = 0;
  publish_kv_used();
}

void BatchEngine::publish_kv_used() {
  meter_.set_kv_used(std::accumulate(kv_cells_.begin(), kv_cells_.end(), std::size_t{0}));
}

}  // namespace modelpool::llama
