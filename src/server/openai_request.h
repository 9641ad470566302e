// An OpenAI completions or chat completions request body, checked field by
// field against what this server implements. A field it does not implement
// is refused with kInvalidArgument naming it ("tools: not supported by this
// server"), never silently ignored; a field whose value is null counts as
// absent, as in OpenAI's API.
//
// Implemented, both endpoints: model, stream, stream_options.include_usage,
// max_tokens, temperature, top_p, top_k, seed, n (1 only), stop,
// presence_penalty, frequency_penalty, logit_bias, response_format (text,
// json_object, json_schema), user, and the extensions ignore_eos and
// timeout_ms. Chat: messages (text content, a string or text parts; roles
// system, developer (as system), user, assistant), max_completion_tokens,
// logprobs (true/false), top_logprobs (0..20). Completions: prompt,
// logprobs (0..5 alternatives), best_of (1 only), echo (false only).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "modelpool/generation.h"
#include "modelpool/status.h"

namespace modelpool::server {

struct CompletionAsk {
  std::string model;
  GenerationRequest generation;
  bool stream = false;
  bool include_usage = false;
  std::optional<std::int64_t> timeout_ms;
  // The caller's end-user identifier ("user"): for the access log only.
  std::string user;
};

// kInvalidArgument naming the first field that is wrong or not supported.
Result<CompletionAsk> parse_completion_ask(std::string_view body, bool chat);

}  // namespace modelpool::server
