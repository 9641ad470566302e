#include "backends/llama/llm_instance.h"

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
  if (!sink.write({"text_output", "BYTES", {1}, Buffer::adopt(encode_bytes_element(result->text))})) {
    return cancelled_error("consumer gone");
  }
  return {};
}

}  // namespace modelpool::llama
