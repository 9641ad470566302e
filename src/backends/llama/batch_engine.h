// BatchEngine: one llama context decoding up to `slots` sequences together
// (continuous batching).
//
// A dedicated thread runs the decoding loop. Each step it:
//   1. admits sequences submitted since the last step (they join now, not
//      when the current batch drains),
//   2. drops cancelled sequences and frees their KV cells,
//   3. builds one batch: the next token of every decoding sequence, then
//      prompt tokens of sequences still prefilling, oldest first: while
//      others decode, at most `prefill_chunk` per prefilling sequence (the
//      whole `batch` when none decode), so one long prompt is spread over
//      steps instead of stalling every stream, and a burst of new prompts
//      still fills the batch,
//   4. decodes it and samples every sequence that produced logits; finished
//      sequences leave at once, freeing their cells.
// Callers block in run() until their sequence is done; which slot (sequence
// id) they use is decided by the LlmService's pool of slots, so admission is
// FIFO with deadlines and a queue limit like any pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/llama/llm_instance.h"

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

class BatchEngine {
 public:
  static Result<std::unique_ptr<BatchEngine>> create(std::shared_ptr<const LlamaWeights> weights,
                                                     const BatchEngineOptions& options);
  // Stops the loop; REQUIRES: no run() in progress.
  ~BatchEngine();

  // Generates one sequence. Blocks until done; `stop` ends it within one
  // step. REQUIRES: at most `slots` callers at once (the LlmService's pool
  // of slots admits them); the engine picks the sequence id.
  Result<GenerationResult> run(const GenerationRequest& request, PreparedPrompt prompt,
                               Clock::time_point t0, std::stop_token stop);

  std::size_t slots() const { return options_.slots; }
  std::size_t sequence_tokens() const { return sequence_tokens_; }
  const ContextBuffers& buffers() const { return buffers_; }
  const std::shared_ptr<const LlamaWeights>& weights() const { return weights_; }
  const DecodeMeter& meter() const { return meter_; }
  // Time since the loop last made progress while it had sequences to run.
  std::chrono::milliseconds stalled_for() const;

 private:
  struct Job;
  BatchEngine(std::shared_ptr<const LlamaWeights> weights, const BatchEngineOptions& options)
      : weights_(std::move(weights)), options_(options) {}
  void loop();
  void finish_job(Job* job, Status status);

  const std::shared_ptr<const LlamaWeights> weights_;
  const BatchEngineOptions options_;
  llama_context* ctx_ = nullptr;
  llama_batch batch_{};
  std::size_t sequence_tokens_ = 0;
  ContextBuffers buffers_;

  std::mutex mu_;
  std::condition_variable work_cv_;  // the loop waits for jobs here
  std::deque<Job*> submitted_;       // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  std::vector<Job*> running_;        // the loop thread's own, in admission order
  std::vector<bool> seq_used_;       // the loop thread's own
  DecodeMeter meter_;
  // Heartbeat: when the loop last finished a step or went idle (steady-clock
  // nanoseconds), and whether it has sequences now.
  std::atomic<std::int64_t> last_beat_ns_{0};
  std::atomic<bool> has_work_{false};
  std::thread thread_;
};

}  // namespace modelpool::llama
