#include "backends/llama/llm_instance.h"

namespace modelpool::llama {

Status LlmInstance::run(const Request& request, Sink& sink, std::stop_token stop) {
  auto parsed = generation_request_from(request);
  if (!parsed.ok()) return parsed.status();
  const GenerationRequest& g = *parsed;
  auto result = generate(g, nullptr, Clock::now(), stop);
  if (!result.ok()) return result.status();
  if (result->finish_reason == FinishReason::kCancelled) return cancelled_error("generation stopped");
  if (!sink.write({"text_output", "BYTES", {1}, encode_bytes_element(result->text)})) {
    return cancelled_error("consumer gone");
  }
  return {};
}

Result<PreparedPrompt> LlmInstance::take_prompt(const GenerationRequest& request,
                                                std::unique_ptr<PreparedGeneration> prepared) const {
  if (prepared == nullptr) return prepare(*weights_, request, sequence_tokens());
  auto* own = dynamic_cast<PreparedPrompt*>(prepared.get());
  if (own == nullptr) return invalid_argument_error("the request was prepared by another backend");
  return std::move(*own);
}

}  // namespace modelpool::llama
