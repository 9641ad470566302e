// LlmInstance: what the LLM service leases from its pool, either a whole
// exclusive context or one slot of a batched context. Both generate through
// Instance::generate, taking the PreparedPrompt (sequence.h) that LlmService
// made before it queued, or preparing the request themselves.
#pragma once

#include <atomic>
#include <memory>
#include <semaphore>

#include "backends/llama/llama_weights.h"
#include "backends/llama/sequence.h"
#include "modelpool/backend.h"

namespace modelpool::llama {

class LlmInstance : public Instance {
 public:
  explicit LlmInstance(std::shared_ptr<const LlamaWeights> weights) : weights_(std::move(weights)) {}

  // Tokens one sequence may hold (prompt + completion).
  virtual std::size_t sequence_tokens() const = 0;

  // kInfer: text in, text out (infer_by_generating, generation.h).
  Status run(const Request& request, Sink& sink, std::stop_token stop) override;

 protected:
  // The prompt Instance::generate works on: `prepared` when this backend
  // made it (a PreparedPrompt), otherwise `request` prepared now.
  // kInvalidArgument as prepare(), or when `prepared` is another backend's.
  Result<PreparedPrompt> take_prompt(const GenerationRequest& request,
                                     std::unique_ptr<PreparedGeneration> prepared) const;

  std::shared_ptr<const LlamaWeights> weights_;
};

// Counts what a context's llama_decode calls did (lock-free).
class DecodeMeter {
 public:
  // One llama_decode call of `generated` + `prompt` tokens taking `d`.
  void record(std::size_t generated, std::size_t prompt, Clock::duration d) {
    const auto ns = static_cast<std::uint64_t>(std::chrono::nanoseconds(d).count());
    busy_ns_.fetch_add(ns, std::memory_order_relaxed);
    prefill_tokens_.fetch_add(prompt, std::memory_order_relaxed);
    if (prompt == 0 && generated > 0) {
      decode_steps_.fetch_add(1, std::memory_order_relaxed);
      decode_tokens_.fetch_add(generated, std::memory_order_relaxed);
      decode_ns_.fetch_add(ns, std::memory_order_relaxed);
    }
  }
  // KV cells the context's sequences hold now.
  void set_kv_used(std::size_t cells) { kv_used_.store(cells, std::memory_order_relaxed); }
  std::size_t kv_used() const { return kv_used_.load(std::memory_order_relaxed); }

  LlmEngineStats read() const {
    LlmEngineStats s;
    s.decode_steps = decode_steps_.load();
    s.decode_tokens = decode_tokens_.load();
    s.decode_s = static_cast<double>(decode_ns_.load()) * 1e-9;
    s.prefill_tokens = prefill_tokens_.load();
    s.busy_s = static_cast<double>(busy_ns_.load()) * 1e-9;
    return s;
  }

 private:
  std::atomic<std::uint64_t> decode_steps_{0}, decode_tokens_{0}, decode_ns_{0};
  std::atomic<std::uint64_t> prefill_tokens_{0}, busy_ns_{0};
  std::atomic<std::size_t> kv_used_{0};
};

// Limits how many exclusive contexts compute at once, so a model's thread
// budget holds whatever the pool size: each context has threads/instances
// threads and at most budget/threads of them decode together.
class ComputeGate {
 public:
  explicit ComputeGate(std::ptrdiff_t permits) : permits_(permits) {}
  void acquire() { permits_.acquire(); }
  void release() { permits_.release(); }

 private:
  std::counting_semaphore<1024> permits_;
};

}  // namespace modelpool::llama
