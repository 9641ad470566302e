// Text generation: the request and result types of the kGenerate
// capability (model.h), the same whatever engine generates.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelpool/backend.h"
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
  // Whether the model's prefix cache may serve this prompt's prefix and
  // keep its blocks for later requests (llama-server's cache_prompt). With
  // false the prompt is computed in full and nothing of it is cached.
  bool cache_prompt = true;
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
  // Of prompt_tokens, those whose KV state came from the prefix cache
  // instead of being computed (OpenAI: usage.prompt_tokens_details).
  int cached_tokens = 0;
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
// "seed" (0..2^32-1), "ignore_eos" and "cache_prompt" (bool) apply (Parameters' rules: 1e3
// is 1000, "50 tokens" an error). kInvalidArgument naming the parameter when
// one is of the wrong type or out of range, or naming every unknown key.
Result<GenerationRequest> generation_request_from(const Request& request);

// kInfer for a text model, the one mapping every engine shares: `request` as
// generation_request_from reads it, generated by `generate`, answered on
// `sink` as one BYTES tensor "text_output". Returns the generation (its
// counts and timings); kCancelled when it was stopped or the sink is gone.
Result<GenerationResult> infer_by_generating(
    const Request& request, Sink& sink,
    const std::function<Result<GenerationResult>(const GenerationRequest&)>& generate);

// KV-cache cells holding tokens now, and how many there are, over all the
// model's contexts.
struct KvUsage {
  std::size_t used_cells = 0;
  std::size_t total_cells = 0;
};

// A model's prefix cache (text models): prompt tokens whose KV state was
// reused from an earlier request instead of being computed again.
struct PrefixCacheStats {
  std::uint64_t hit_tokens = 0;   // prompt tokens served from the cache
  std::uint64_t miss_tokens = 0;  // prompt tokens computed by requests that looked
  std::uint64_t evictions = 0;    // blocks dropped to stay within the bounds
  std::size_t tokens = 0;         // tokens cached now
  std::size_t bytes = 0;          // their KV state
  std::size_t max_tokens = 0;     // the bounds
  std::size_t max_bytes = 0;
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

}  // namespace modelpool
