// ExclusiveContext: one llama context over shared weights, serving one
// generation at a time (the pool leases it exclusively).
#pragma once

#include <memory>

#include "backends/llama/context_prefix_cache.h"
#include "backends/llama/llm_instance.h"

namespace modelpool::llama {

class ExclusiveContext final : public LlmInstance {
 public:
  // A context of `context_tokens` KV cells using `threads` compute threads;
  // decoding calls go through `gate`. With `prefix_cache` (shared with the
  // model's other contexts) a prompt starts from its longest cached prefix,
  // and what the context computed is cached. Errors: kModelFailed from
  // llama.cpp.
  static Result<std::unique_ptr<ExclusiveContext>> create(
      std::shared_ptr<const LlamaWeights> weights, std::size_t context_tokens,
      std::size_t threads, std::size_t batch, std::shared_ptr<ComputeGate> gate,
      std::shared_ptr<DecodeMeter> meter = std::make_shared<DecodeMeter>(),
      std::shared_ptr<PrefixCache> prefix_cache = nullptr);
  ~ExclusiveContext() override;

  std::size_t bytes() const override { return buffers_.total(); }
  const ContextBuffers& buffers() const { return buffers_; }
  std::size_t sequence_tokens() const override { return context_tokens_; }

  // Decodes one token and clears the cache: first-run allocations happen
  // here instead of in the first request.
  Status warmup() override;
  // Instance::generate on this context alone: prefill in `batch`-token
  // calls, then one token per call. Runs to the end (a prompt's deadline
  // does not apply here); `stop` ends it within one call.
  Result<GenerationResult> generate(const GenerationRequest& request,
                                    std::unique_ptr<PreparedGeneration> prepared,
                                    Clock::time_point t0, std::stop_token stop) override;

 private:
  ExclusiveContext(std::shared_ptr<const LlamaWeights> weights, std::shared_ptr<ComputeGate> gate,
                   std::shared_ptr<DecodeMeter> meter)
      : LlmInstance(std::move(weights)), gate_(std::move(gate)), meter_(std::move(meter)) {}
  int decode(std::size_t generated, std::size_t prompt);

  std::shared_ptr<ComputeGate> gate_;
  std::shared_ptr<DecodeMeter> meter_;
  llama_context* ctx_ = nullptr;
  llama_batch batch_{};
  std::size_t batch_size_ = 0;
  std::size_t context_tokens_ = 0;
  ContextBuffers buffers_;
  std::unique_ptr<ContextPrefixCache> prefix_;  // null: no prefix cache
};

}  // namespace modelpool::llama
