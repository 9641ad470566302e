#include "backends/llama/llm_instance.h"

namespace modelpool {

Result<GenerationRequest> generation_request_from(const Request& request) {
  if (request.inputs.empty()) return invalid_argument_error("inputs: need one BYTES tensor with the prompt");
  auto prompt = first_bytes_element(request.inputs[0]);
  if (!prompt.ok()) return prompt.status();
  GenerationRequest g;
  g.prompt = std::move(*prompt);
  auto param = [&](const char* key) -> const std::string* {
    auto it = request.parameters.find(key);
    return it == request.parameters.end() ? nullptr : &it->second;
  };
  try {
    if (const std::string* v = param("max_tokens")) g.max_tokens = std::stoi(*v);
    if (const std::string* v = param("temperature")) g.temperature = std::stof(*v);
    if (const std::string* v = param("seed")) g.seed = static_cast<std::uint32_t>(std::stoul(*v));
  } catch (const std::exception&) {
    return invalid_argument_error("parameters: max_tokens, temperature and seed must be numbers");
  }
  return g;
}

}  // namespace modelpool

namespace modelpool::llama {

Status LlmInstance::run(const Request& request, Sink& sink, std::stop_token stop) {
  auto parsed = generation_request_from(request);
  if (!parsed.ok()) return parsed.status();
  const GenerationRequest& g = *parsed;
  auto prepared = prepare(*weights_, g, sequence_tokens());
  if (!prepared.ok()) return prepared.status();
  auto result = generate(g, std::move(*prepared), Clock::now(), stop);
  if (!result.ok()) return result.status();
  if (result->finish_reason == FinishReason::kCancelled) return cancelled_error("generation stopped");
  if (!sink.write({"text_output", "BYTES", {1}, encode_bytes_element(result->text)})) {
    return cancelled_error("consumer gone");
  }
  return {};
}

}  // namespace modelpool::llama
