// The engine-neutral parts of text generation.
#include "modelpool/generation.h"

namespace modelpool {

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

Result<GenerationRequest> generation_request_from(const Request& request) {
  if (request.inputs.empty()) return invalid_argument_error("inputs: need one BYTES tensor with the prompt");
  auto prompt = first_bytes_element(request.inputs[0]);
  if (!prompt.ok()) return prompt.status();
  GenerationRequest g;
  g.prompt = std::move(*prompt);
  const Parameters& p = request.parameters;
  // The ranges are the OpenAI API's (openai_api.cc), but for the seed: the
  // sampler's seed is 32 bits, and a wider one is refused rather than wrapped.
  std::int64_t max_tokens = g.max_tokens, top_k = g.top_k, seed = -1;
  double temperature = g.temperature, top_p = g.top_p;
  for (Status s : {p.refuse_unknown({"max_tokens", "temperature", "top_p", "top_k", "seed", "ignore_eos",
                                     "cache_prompt"}),
                   p.read_int("max_tokens", &max_tokens, 1, 1 << 20),
                   p.read_number("temperature", &temperature, 0, 2),
                   p.read_number("top_p", &top_p, 0.0001, 1),
                   p.read_int("top_k", &top_k, 0, 1 << 20),
                   p.read_int("seed", &seed, 0, UINT32_MAX),
                   p.read_bool("ignore_eos", &g.ignore_eos),
                   p.read_bool("cache_prompt", &g.cache_prompt)}) {
    if (!s.ok()) return s;
  }
  g.max_tokens = static_cast<int>(max_tokens);
  g.temperature = static_cast<float>(temperature);
  g.top_p = static_cast<float>(top_p);
  g.top_k = static_cast<int>(top_k);
  if (seed >= 0) g.seed = static_cast<std::uint32_t>(seed);
  return g;
}

Result<GenerationResult> infer_by_generating(
    const Request& request, Sink& sink,
    const std::function<Result<GenerationResult>(const GenerationRequest&)>& generate) {
  auto g = generation_request_from(request);
  if (!g.ok()) return g.status();
  Result<GenerationResult> r = generate(*g);
  if (!r.ok()) return r.status();
  if (r->finish_reason == FinishReason::kCancelled) return cancelled_error("generation stopped");
  if (!sink.write({"text_output", "BYTES", {1}, Buffer::adopt(encode_bytes_element(r->text))})) {
    return cancelled_error("consumer gone");
  }
  return r;
}

}  // namespace modelpool
