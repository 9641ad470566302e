// LlmService: text generation on one model, many callers at once.
//
// Two ways to run a model (LlmOptions::mode):
//
//   kExclusive  a Pool of `instances` llama contexts over one shared copy of
//               the weights; each context serves one request at a time.
//   kBatched    one context serves up to `slots` sequences together with
//               continuous batching: a request joins at the next decoding
//               step, long prompts are prefilled in chunks between decoding
//               steps so running streams keep flowing, and a finished or
//               cancelled sequence frees its KV cells at once.
//
// Either way admission goes through a Pool (of contexts, or of slots), so the
// pool's promises hold: strict FIFO when everything is busy, deadlines,
// cancellation through a stop token, and kQueueFull beyond max_queue.
//
//   LlmOptions options;                      // batched, 8 slots
//   auto llm = LlmService::create(registry, spec, options);
//   GenerationRequest req;
//   req.messages = {{"user", "Hello"}};
//   req.max_tokens = 64;
//   req.on_text = [](std::string_view piece) { std::cout << piece; return true; };
//   Result<GenerationResult> r = (*llm)->generate(req, Clock::now() + 30s, stop);
//
// Thread safety: generate() may be called from any number of threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/generation.h"
#include "modelpool/pool.h"
#include "modelpool/registry.h"
#include "modelpool/status.h"

namespace modelpool {

enum class LlmMode { kExclusive, kBatched };

struct LlmOptions {
  LlmMode mode = LlmMode::kBatched;
  // kExclusive: contexts in the pool, at most `instances`, at least
  // `min_instances`, scaling with the load between them (`autoscale`).
  // kBatched: ignored (one context).
  std::size_t instances = 1;
  std::size_t min_instances = 1;
  PoolOptions::Autoscale autoscale;
  // What the contexts and the prefix cache hold is reserved here (the
  // registry reserves the weights); null: no budget.
  std::shared_ptr<MemoryBudget> memory_budget;
  std::function<void(const Status&)> on_growth_refused;
  // kBatched: sequences one context decodes together.
  std::size_t slots = 8;
  // KV-cache tokens per context; in batched mode shared by its slots (each
  // sequence gets context / slots), as llama-server's -c.
  std::size_t context = 2048;
  // Compute threads for the whole model, not per instance. 0: the cores.
  std::size_t threads = 0;
  // Most tokens one decoding call takes (llama n_batch); in batched mode at
  // least `slots`.
  std::size_t batch = 512;
  // kBatched: while other sequences decode, a step takes at most this many
  // prompt tokens per sequence still prefilling, so one long prompt cannot
  // stall the streams while a burst of prompts still fills the batch. With
  // nothing decoding, prompts are prefilled `batch` tokens at a time.
  std::size_t prefill_chunk = 64;
  // kBatched: while other sequences decode, a step with prompt tokens may
  // take this many times as long as a decoding step alone; the prompt
  // tokens per step come from a cost model learned from the running steps
  // (prefill_chunk until it has seen enough). 0: always prefill_chunk.
  double prefill_stall = 2.0;
  std::size_t max_queue = 1024;
  // The prefix cache, shared by the model's contexts: the KV of prompt
  // blocks of `prefix_block_tokens` tokens, at most `prefix_cache_tokens`
  // tokens and `prefix_cache_bytes` bytes (least recently used blocks go
  // first). Either bound 0: no cache.
  std::size_t prefix_cache_tokens = 8192;
  std::size_t prefix_cache_bytes = std::size_t{256} << 20;
  std::size_t prefix_block_tokens = 16;
  // kExclusive, benchmarks only: load the model once per instance (the naive
  // pool), to measure what sharing saves.
  bool separate_loads = false;
  // kBatched, fault injection for tests: every decoding step also sleeps
  // this long, as a wedged loop would (see stalled_for()).
  std::chrono::milliseconds step_delay{0};
};

// Sizes as llama.cpp reports them.
struct LlmInfo {
  std::size_t weights_bytes = 0;      // the model's tensors
  std::size_t context_bytes = 0;      // one context: KV cache + compute + output buffers
  std::size_t kv_bytes = 0;           // of which the KV cache
  std::size_t context_tokens = 0;     // per context
  std::size_t sequence_tokens = 0;    // per sequence (context / slots in batched mode)
  std::size_t instances = 0;          // contexts
  std::size_t slots = 0;              // concurrent sequences in all
  std::size_t threads = 0;            // compute threads in all
  std::string chat_template;          // which template renders chat messages, in words
  // The prefix cache, in words: its bounds, or why it is off.
  std::string prefix_cache;
};

class LlmService {
 public:
  // Loads (or shares, through `registry`) the model in spec.path and builds
  // the contexts. Errors: kNotFound (no file), kInvalidArgument (bad options,
  // naming the field), kModelFailed (llama.cpp refused the file or context).
  static Result<std::unique_ptr<LlmService>> create(Registry& registry, const ModelSpec& spec,
                                                    const LlmOptions& options);
  virtual ~LlmService() = default;

  // Generates a completion. Waits in FIFO order for a context or slot until
  // `deadline` (kTimeout) or `stop` (kCancelled); kQueueFull when max_queue
  // callers already wait. A prompt longer than a sequence's context is
  // refused with kInvalidArgument before any work. Once generation started,
  // a stop ends it within one decoding step with finish reason kCancelled
  // and the text so far (ok status). In batched mode a generation still
  // running at `deadline` ends within one step with kTimeout.
  virtual Result<GenerationResult> generate(const GenerationRequest& request,
                                            Deadline deadline = kNoDeadline,
                                            std::stop_token stop = {}) = 0;

  // Number of tokens `text` encodes to with this model's tokenizer.
  virtual Result<std::size_t> count_tokens(std::string_view text) const = 0;

  virtual LlmInfo info() const = 0;
  // How long the batched decoding loop has had work without finishing a
  // step (zero when it is idle or keeping up): the scheduler's heartbeat,
  // for liveness probes. Always zero in exclusive mode.
  virtual std::chrono::milliseconds stalled_for() const = 0;
  // One entry per context (exclusive mode) or one for the batched context.
  virtual std::vector<LlmEngineStats> engine_stats() const = 0;
  virtual PoolSnapshot snapshot() const = 0;
  virtual KvUsage kv_usage() const = 0;
  // nullopt when the model has no prefix cache.
  virtual std::optional<PrefixCacheStats> prefix_cache_stats() const = 0;
  // Stops admitting, wakes waiters with kShuttingDown, drains (bounded).
  virtual Status shutdown(std::chrono::milliseconds timeout) = 0;
};

// Writes a llama-architecture GGUF with deterministic random weights and the
// llama SPM tokenizer, for tests and benchmarks.
struct MakeModelOptions {
  std::string preset = "tiny";  // tiny | small | medium
  std::string out;
  std::uint64_t seed = 42;
  std::string vocab;  // GGUF to take the tokenizer from; empty: the pinned llama.cpp's
  ProgressFn progress;
};
Status make_model(const MakeModelOptions& options);

}  // namespace modelpool
