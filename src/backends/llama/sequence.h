// Sequence: one generation in progress, whatever runs it (an exclusive
// context or a slot of a batched one): the prompt's tokens, the sampler, the
// text produced so far, stop strings, streaming and the finish rule.
//
// The runner feeds the model and hands the Sequence each output's logits;
// the Sequence samples, decides when to finish and streams text. In batched
// mode it is the BatchScheduler's item (modelpool/batching.h): a prompt
// token is a prefill unit, a generated token a decode unit.
#pragma once

#include <llama.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/llama/grammar.h"
#include "backends/llama/llama_weights.h"
#include "backends/llama/llm_service.h"
#include "modelpool/backend.h"
#include "modelpool/batching.h"
#include "modelpool/pool.h"

namespace modelpool::llama {

// The request turned into tokens, before any instance is involved: what
// LlmService hands to Instance::generate as its PreparedGeneration.
struct PreparedPrompt final : PreparedGeneration {
  std::vector<llama_token> tokens;
  // The response format's grammar, parsed (null: free text).
  SamplerPtr grammar;
  // When the caller stops waiting: a batched slot ends the generation there
  // with kTimeout. An exclusive context runs to the end.
  Deadline deadline = kNoDeadline;
};

// Tokenizes the prompt (or renders and tokenizes the chat messages), checks
// it fits and checks the sampling fields: kInvalidArgument naming the
// problem (empty prompt, max_tokens < 1, a prompt of N tokens that does not
// fit a sequence's M, a logit_bias token outside the vocabulary, a penalty
// out of range, a JSON schema the converter cannot handle).
Result<PreparedPrompt> prepare(const LlamaWeights& weights, const GenerationRequest& request,
                               std::size_t sequence_tokens);

class Sequence final : public BatchItem {
 public:
  // `t0`: when the caller asked (timings are measured from it).
  Sequence(const LlamaWeights& weights, const GenerationRequest& request, PreparedPrompt prompt,
           std::size_t sequence_tokens, Clock::time_point t0);
  ~Sequence() override;
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  const std::vector<llama_token>& prompt() const { return prompt_; }
  // Prompt tokens already given to the model.
  std::size_t prefilled() const { return prefilled_; }
  void advance_prefill(std::size_t n) { prefilled_ += n; }
  // The model starts on the sequence now: its queue time ends (once).
  void mark_started() override;
  bool prefill_done() const { return prefilled_ == prompt_.size(); }
  // Whether the request lets the prefix cache serve and keep its prompt.
  bool cache_prompt() const { return request_.cache_prompt; }
  // The first `n` prompt tokens' KV came from the prefix cache: they count
  // as prefilled and are reported as cached. REQUIRES: nothing prefilled.
  void take_cached(std::size_t n) {
    prefilled_ = n;
    result_.cached_tokens = static_cast<int>(n);
  }
  // The tokens whose KV the sequence holds, in position order: the prompt
  // tokens prefilled, then the generated tokens fed back.
  std::vector<llama_token> tokens_with_kv() const;
  // Held: waiting for a prompt prefix another sequence is computing
  // (BatchItem::held).
  bool held() const override { return held_; }
  void set_held(bool held) { held_ = held; }
  std::size_t prefill_pending() const override { return prompt_.size() - prefilled_; }
  // Position of the next token to feed.
  llama_pos next_pos() const { return static_cast<llama_pos>(prefilled_ + fed_generated_); }
  // The last sampled token, to feed in the next step. REQUIRES: one sampled.
  llama_token pending_token() const { return result_.tokens.back(); }
  void mark_pending_fed() { ++fed_generated_; }

  // Samples from output `index` of the last llama_decode (logit bias,
  // penalties and grammar apply, greedy decoding included), records the
  // token's log-probability when asked, streams what became final and
  // decides whether the sequence is finished.
  void on_logits(llama_context* ctx, int32_t index);

  // Ends the sequence now with `reason` (cancellation), flushing held text.
  void finish(FinishReason reason);
  // finish(kCancelled): the caller stopped, or its deadline passed.
  void finish_now() override { finish(FinishReason::kCancelled); }
  bool finished() const override { return finished_; }

  GenerationResult take_result();

 private:
  void emit_final_text(bool flush);
  // Gives on_logprobs the entries it has not had yet.
  void hand_over_logprobs();
  // `chosen`'s log-probability and the request's top alternatives, from
  // the raw logits.
  TokenLogprob logprob_of(const float* logits, llama_token chosen) const;

  const LlamaWeights& weights_;
  const GenerationRequest& request_;
  std::vector<llama_token> prompt_;
  std::size_t sequence_tokens_;
  Clock::time_point t0_;
  llama_sampler* sampler_ = nullptr;
  // Greedy with nothing changing the logits: an argmax over the raw logits.
  bool plain_greedy_ = false;
  int32_t n_vocab_ = 0;
  std::size_t prefilled_ = 0;
  std::size_t fed_generated_ = 0;
  std::size_t emitted_ = 0;  // bytes of result_.text already streamed
  std::size_t logprobs_handed_ = 0;  // entries of result_.logprobs given to on_logprobs
  std::size_t longest_stop_ = 0;
  bool finished_ = false;
  bool started_ = false;
  bool held_ = false;
  bool finished_streaming_ = false;  // on_text returned false
  GenerationResult result_;
};

}  // namespace modelpool::llama

namespace modelpool::llama {

// Appends one token to `batch`. REQUIRES: room for it (llama_batch_init size).
inline void add_to_batch(llama_batch& batch, llama_token token, llama_pos pos, llama_seq_id seq,
                         bool want_logits) {
  const int32_t i = batch.n_tokens++;
  batch.token[i] = token;
  batch.pos[i] = pos;
  batch.n_seq_id[i] = 1;
  batch.seq_id[i][0] = seq;
  batch.logits[i] = want_logits ? 1 : 0;
}

}  // namespace modelpool::llama
