#include "backends/llama/exclusive_context.h"

#include <algorithm>

namespace modelpool::llama {

Result<std::unique_ptr<ExclusiveContext>> ExclusiveContext::create(
    std::shared_ptr<const LlamaWeights> weights, std::size_t context_tokens, std::size_t threads,
    std::size_t batch, std::shared_ptr<ComputeGate> gate, std::shared_ptr<DecodeMeter> meter,
    std::shared_ptr<PrefixCache> prefix_cache) {
  std::unique_ptr<ExclusiveContext> c(
      new ExclusiveContext(std::move(weights), std::move(gate), std::move(meter)));
  llama_context_params p = llama_context_default_params();
  p.n_ctx = static_cast<uint32_t>(context_tokens);
  p.n_batch = p.n_ubatch = static_cast<uint32_t>(batch);
  p.n_seq_max = 1;
  p.n_threads = p.n_threads_batch = static_cast<int32_t>(threads);
  p.no_perf = true;
  auto ctx = create_context(c->weights_->model(), p, &c->buffers_);
  if (!ctx.ok()) return ctx.status();
  c->ctx_ = *ctx;
  c->context_tokens_ = llama_n_ctx(c->ctx_);
  c->batch_size_ = batch;
  c->batch_ = llama_batch_init(static_cast<int32_t>(batch), 0, 1);
  if (prefix_cache) {
    // A layout it cannot read leaves this context without the cache.
    auto prefix = ContextPrefixCache::create(std::move(prefix_cache), c->ctx_,
                                             llama_vocab_bos(c->weights_->vocab()));
    if (prefix.ok()) c->prefix_ = std::move(*prefix);
  }
  return c;
}

ExclusiveContext::~ExclusiveContext() {
  if (batch_.token != nullptr) llama_batch_free(batch_);
  if (ctx_ != nullptr) llama_free(ctx_);
}

int ExclusiveContext::decode(std::size_t generated, std::size_t prompt) {
  gate_->acquire();
  const Clock::time_point start = Clock::now();
  const int rc = llama_decode(ctx_, batch_);
  meter_->record(generated, prompt, Clock::now() - start);
  gate_->release();
  return rc;
}

Status ExclusiveContext::warmup() {
  batch_.n_tokens = 0;
  add_to_batch(batch_, llama_vocab_bos(weights_->vocab()), 0, 0, true);
  const int rc = decode(0, 0);
  llama_memory_clear(llama_get_memory(ctx_), false);
  if (rc != 0) return internal_error("llama_decode failed during warm-up (" + std::to_string(rc) + ")");
  return {};
}

Result<GenerationResult> ExclusiveContext::generate(const GenerationRequest& request,
                                                    std::unique_ptr<PreparedGeneration> prepared,
                                                    Clock::time_point t0, std::stop_token stop) {
  auto prompt = take_prompt(request, std::move(prepared));
  if (!prompt.ok()) return prompt.status();
  // Forgets the previous sequence's cells; their data needs no zeroing (the
  // cache was zeroed when created, and masked cells are never attended).
  llama_memory_clear(llama_get_memory(ctx_), false);
  Sequence seq(*weights_, request, std::move(*prompt), context_tokens_, t0);
  const bool cached = prefix_ && seq.cache_prompt();
  if (cached) {
    seq.take_cached(prefix_->restore(0, seq.prompt(), prefix_->prompt_hashes(seq.prompt())));
  }
  seq.mark_started();
  while (!seq.finished()) {
    if (stop.stop_requested()) {
      seq.finish(FinishReason::kCancelled);
      break;
    }
    batch_.n_tokens = 0;
    std::size_t prefill = 0;
    if (!seq.prefill_done()) {
      prefill = std::min(batch_size_, seq.prompt().size() - seq.prefilled());
      for (std::size_t i = 0; i < prefill; ++i) {
        const std::size_t at = seq.prefilled() + i;
        add_to_batch(batch_, seq.prompt()[at], static_cast<llama_pos>(at), 0,
                     at + 1 == seq.prompt().size());
      }
    } else {
      add_to_batch(batch_, seq.pending_token(), seq.next_pos(), 0, true);
      seq.mark_pending_fed();
    }
    if (const int rc = decode(prefill == 0 ? 1 : 0, prefill); rc != 0) {
      meter_->set_kv_used(0);
      return internal_error("llama_decode failed (" + std::to_string(rc) + ")");
    }
    meter_->set_kv_used(static_cast<std::size_t>(seq.next_pos()) + prefill);
    if (prefill > 0) {
      seq.advance_prefill(prefill);
      if (seq.prefill_done()) {
        seq.on_logits(ctx_, batch_.n_tokens - 1);
        // Cached at once, for the requests other contexts start meanwhile.
        if (cached) prefix_->save_later(0, seq.prompt());
      }
    } else {
      seq.on_logits(ctx_, 0);
    }
  }
  // What it computed, generated tokens included: a conversation's next turn
  // resends them.
  if (cached) prefix_->save_later(0, seq.tokens_with_kv());
  meter_->set_kv_used(0);
  return seq.take_result();
}

}  // namespace modelpool::llama
