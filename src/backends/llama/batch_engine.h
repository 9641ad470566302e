// BatchEngine: one llama context decoding up to `slots` sequences together
// (continuous batching).
//
// The rules of continuous batching (who joins the next step, with how many
// prompt tokens, when a sequence leaves, the heartbeat) are the core's
// BatchScheduler (modelpool/batching.h); this is its llama.cpp step: each
// step lays the entries out in one llama_batch (a decoding sequence's next
// token, or a run of prompt tokens, on the entry's slot as sequence id),
// calls llama_decode once and hands every sequence that produced logits to
// Sequence::on_logits. A sequence that leaves has its KV cells removed at
// once. Callers block in run(); which slot they hold is decided by the
// LlmService's pool of slots, so admission is FIFO with deadlines and a
// queue limit like any pool.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backends/llama/llm_instance.h"
#include "modelpool/batching.h"

namespace modelpool::llama {

struct BatchEngineOptions {
  std::size_t slots = 8;
  std::size_t context = 2048;  // KV cells in all; each sequence gets context / slots
  std::size_t threads = 2;
  std::size_t batch = 512;
  std::size_t prefill_chunk = 64;
  // Fault injection (tests): each step also sleeps this long, as a wedged
  // loop would, so that stalled_for() can be seen to grow.
  std::chrono::milliseconds step_delay{0};
};

class BatchEngine final : private StepEngine {
 public:
  // Errors: kInvalidArgument (options), kModelFailed (llama.cpp refused
  // the context).
  static Result<std::unique_ptr<BatchEngine>> create(std::shared_ptr<const LlamaWeights> weights,
                                                     const BatchEngineOptions& options);
  // Stops the scheduler's loop, then frees the context.
  // REQUIRES: no run() in progress.
  ~BatchEngine() override;

  // Generates one sequence. Blocks until done: ok with the result (finish
  // reason kCancelled when `stop` fired: it ends within one step), kTimeout
  // when `deadline` passed while it ran, kInternal when llama_decode failed.
  // REQUIRES: at most `slots` callers at once (the LlmService's pool of
  // slots admits them); the scheduler picks the sequence id.
  Result<GenerationResult> run(const GenerationRequest& request, PreparedPrompt prompt,
                               Clock::time_point t0, Deadline deadline, std::stop_token stop);

  std::size_t slots() const { return options_.slots; }
  std::size_t sequence_tokens() const { return sequence_tokens_; }
  const ContextBuffers& buffers() const { return buffers_; }
  const std::shared_ptr<const LlamaWeights>& weights() const { return weights_; }
  const DecodeMeter& meter() const { return meter_; }
  // Time since the loop last made progress while it had sequences to run.
  std::chrono::milliseconds stalled_for() const { return scheduler_->stalled_for(); }

 private:
  BatchEngine(std::shared_ptr<const LlamaWeights> weights, const BatchEngineOptions& options)
      : weights_(std::move(weights)), options_(options) {}

  // StepEngine, on the scheduler's loop thread. Every entry's item is a
  // Sequence made by run().
  Status step(std::span<const StepEntry> entries) override;
  void release(int slot) override;
  void publish_kv_used();

  const std::shared_ptr<const LlamaWeights> weights_;
  const BatchEngineOptions options_;
  // Constant after create():
  llama_context* ctx_ = nullptr;
  std::size_t sequence_tokens_ = 0;
  ContextBuffers buffers_;
  // The loop thread's own:
  llama_batch batch_{};
  std::vector<int32_t> output_index_;  // per entry: its logits in the batch (-1: none)
  std::vector<std::size_t> kv_cells_;  // per slot: cells its sequence holds
  DecodeMeter meter_;                  // lock-free; read from any thread
  // Its loop calls step() and release(); the destructor stops it first.
  std::unique_ptr<BatchScheduler> scheduler_;
};

}  // namespace modelpool::llama
