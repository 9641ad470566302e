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
//
// With a prefix cache (BatchEngineOptions::prefix_cache), a sequence takes
// its prompt's longest cached prefix when it is admitted and computes only
// the rest. A sequence whose next prompt block another running sequence is
// computing right now (a burst of requests with one system prompt) is held
// until that one's prompt is done, then copies it: the shared prefix is
// computed once per burst, not once per request. A sequence's blocks are
// cached when its prompt is done (for the held ones) and when it leaves
// (prompt and generated tokens, for the next turn of a conversation).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/llama/context_prefix_cache.h"
#include "backends/llama/llm_instance.h"
#include "modelpool/batching.h"

namespace modelpool::llama {

struct BatchEngineOptions {
  std::size_t slots = 8;
  std::size_t context = 2048;  // KV cells in all; each sequence gets context / slots
  std::size_t threads = 2;
  std::size_t batch = 512;
  std::size_t prefill_chunk = 64;
  double prefill_stall = 2.0;  // BatchSchedulerOptions::prefill_stall
  // Fault injection (tests): each step also sleeps this long, as a wedged
  // loop would, so that stalled_for() can be seen to grow.
  std::chrono::milliseconds step_delay{0};
  // Shared with the model's other contexts; null: no prefix cache.
  std::shared_ptr<PrefixCache> prefix_cache;
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
  // Why the prefix cache is off for this context although one was given
  // (llama.cpp's state has a layout it cannot read); empty otherwise.
  const std::string& prefix_cache_off() const { return prefix_cache_off_; }

 private:
  BatchEngine(std::shared_ptr<const LlamaWeights> weights, const BatchEngineOptions& options)
      : weights_(std::move(weights)), options_(options) {}

  // StepEngine, on the scheduler's loop thread. Every entry's item is a
  // Sequence made by run().
  Status step(std::span<const StepEntry> entries) override;
  void admit(BatchItem& item, int slot) override;
  void release(int slot) override;
  void publish_kv_used();
  // Prefix cache: takes the slot's cached prefix, or holds it while another
  // slot computes its next block (then registers nothing).
  void start_from_cache(int slot);
  // The slot's prompt is done or it left: its blocks are no longer being
  // computed, and the slots held for them start.
  void end_computing(int slot);

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
  std::vector<Sequence*> sequence_of_;  // per slot: its sequence, from admit() to release()
  std::vector<bool> step_failed_;       // per slot: its KV is from a failed step
  // Prefix cache (null: off). Per slot: the prompt blocks it may take from
  // the cache, and the slot it is held for (-1: none); per block being
  // computed: the slot computing it.
  std::unique_ptr<ContextPrefixCache> prefix_;
  std::string prefix_cache_off_;
  std::vector<std::vector<BlockHash>> prompt_hashes_;
  std::vector<int> held_for_;
  std::unordered_map<BlockHash, int> computing_;
  DecodeMeter meter_;                  // lock-free; read from any thread
  // Its loop calls step() and release(); the destructor stops it first.
  std::unique_ptr<BatchScheduler> scheduler_;
};

}  // namespace modelpool::llama
