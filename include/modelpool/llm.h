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
#include "modelpool/pool.h"
#include "modelpool/registry.h"
#include "modelpool/status.h"

namespace modelpool {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  // Always text: rendered into the chat template but tokenized without
  // special tokens, so "<|im_start|>" or "</s>" typed by a user stays text.
  // Only the template itself produces special tokens.
  std::string content;
};

enum class FinishReason {
  kStop,       // end-of-generation token or a stop string
  kLength,     // max_tokens reached, or the context is full
  kCancelled,  // the stop token fired or on_text returned false
};

// "stop", "length", "cancelled" (the OpenAI names, plus ours).
std::string_view finish_reason_name(FinishReason reason);

// Receives generated text in order, piece by piece, as soon as it is final
// (text that may still turn out to begin a stop string is held back). Called
// on the engine's thread: it must be quick (append to a buffer, signal a
// writer). Return false to stop generating (finish reason kCancelled).
using TextCallback = std::function<bool(std::string_view piece)>;

// A token and its log-probability under the model: the log-softmax of the
// raw logits, before logit bias, penalties, grammar and temperature (what
// vLLM reports by default).
struct TokenProb {
  std::int32_t token = 0;
  std::string text;  // the token's bytes (may be part of a UTF-8 character)
  float logprob = 0;
};

// One generated token's log-probability and the most likely alternatives at
// its position, most likely first.
struct TokenLogprob : TokenProb {
  std::vector<TokenProb> top;
};

// Receives log-probabilities of generated tokens while streaming; called on
// the engine's thread like TextCallback.
using LogprobCallback = std::function<void(std::span<const TokenLogprob> entries)>;

// What the output must be: free text, any JSON object, or JSON matching a
// JSON schema. JSON is enforced by constrained decoding (a llama.cpp grammar);
// the output can still be cut short by max_tokens or a stop string.
struct ResponseFormat {
  enum class Kind { kText, kJsonObject, kJsonSchema };
  Kind kind = Kind::kText;
  std::string json_schema;  // kJsonSchema: the schema as serialized JSON
};

struct GenerationRequest {
  // The prompt as raw text; ignored when `messages` is not empty. Special
  // tokens written in it ("<s>", "<|im_start|>") are parsed as such, as
  // llama-server does: a raw prompt is the caller's own template.
  std::string prompt;
  // Chat messages, rendered with the model's chat template (chatml when the
  // model has none).
  std::vector<ChatMessage> messages;
  int max_tokens = 16;
  float temperature = 0.8f;  // 0: greedy (deterministic)
  float top_p = 0.95f;
  int top_k = 40;
  std::optional<std::uint32_t> seed;  // none: a random seed
  std::vector<std::string> stop;      // stop strings; not part of the output
  bool ignore_eos = false;  // keep generating past end-of-generation (benchmarks)
  TextCallback on_text;     // optional streaming

  // Added to a token's logit before sampling, greedy decoding included:
  // token id -> bias in [-100, 100] (-100 bans a token, +100 all but forces
  // it). A token outside the vocabulary, or a bias out of range, is
  // kInvalidArgument.
  std::vector<std::pair<std::int32_t, float>> logit_bias;
  // In [-2, 2], over the tokens generated so far (not the prompt), as
  // OpenAI and vLLM: a token's logit is lowered by presence_penalty once it
  // has appeared and by frequency_penalty times its count.
  float presence_penalty = 0;
  float frequency_penalty = 0;
  // A JSON schema the converter cannot handle is kInvalidArgument with its
  // reason, before any waiting.
  ResponseFormat response_format;

  // Log-probabilities of the generated tokens, in GenerationResult::logprobs,
  // each with the `top_logprobs` (0..20) most likely tokens at its position.
  // Computed only when asked: it costs a pass over the vocabulary per token.
  bool logprobs = false;
  int top_logprobs = 0;
  // Optional, with `logprobs` and streaming: receives every entry of
  // GenerationResult::logprobs exactly once, in order (until on_text
  // returns false). The entries handed
  // over just before an on_text call are those of the tokens produced since
  // the previous on_text call; entries of tokens whose text was held back
  // and never streamed (cut by a stop string) come in one last call before
  // generate() returns.
  LogprobCallback on_logprobs;
};

struct GenerationResult {
  std::string text;
  std::vector<std::int32_t> tokens;  // completion token ids
  int prompt_tokens = 0;
  int completion_tokens = 0;
  FinishReason finish_reason = FinishReason::kStop;
  double queue_s = 0;  // from the call until the model started on it (first prompt tokens decoded)
  double ttft_s = 0;   // from the call to the first completion token
  double total_s = 0;  // from the call to the end
  // When each completion token was produced, in seconds from the call.
  std::vector<double> token_times_s;
  // With GenerationRequest::logprobs: one entry per completion token.
  std::vector<TokenLogprob> logprobs;
};

// A generic (KServe) request as a generation request: the first input, a
// BYTES tensor, is the prompt; the typed parameters "max_tokens" (integer,
// 1..2^20), "temperature" (0..2), "top_p" (0.0001..1), "top_k" (0..2^20),
// "seed" (0..2^32-1) and "ignore_eos" (bool) apply (Parameters' rules: 1e3
// is 1000, "50 tokens" an error). kInvalidArgument naming the parameter when
// one is of the wrong type or out of range, or naming every unknown key.
Result<GenerationRequest> generation_request_from(const Request& request);

enum class LlmMode { kExclusive, kBatched };

struct LlmOptions {
  LlmMode mode = LlmMode::kBatched;
  // kExclusive: contexts in the pool. kBatched: ignored (one context).
  std::size_t instances = 1;
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
  std::size_t max_queue = 1024;
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
};

// KV-cache cells holding tokens now, and how many there are, over all the
// model's contexts.
struct KvUsage {
  std::size_t used_cells = 0;
  std::size_t total_cells = 0;
};

// What one context's decoding calls did, cumulative since it was made.
// decode_tokens / decode_s is comparable to llama-batched-bench's S_TG: it
// counts only steps that carried generated tokens and no prompt tokens.
struct LlmEngineStats {
  std::uint64_t decode_steps = 0;
  std::uint64_t decode_tokens = 0;
  double decode_s = 0;
  std::uint64_t prefill_tokens = 0;  // prompt tokens, in any step
  double busy_s = 0;                 // time in every llama_decode call
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
  // and the text so far (ok status).
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
