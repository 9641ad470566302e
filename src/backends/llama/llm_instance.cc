#include "backends/llama/llm_instance.h"

namespace modelpool::llama {

Status LlmInstance::run(const Request& request, Sink& sink, std::stop_token stop) {
  return infer_by_generating(request, sink, [&](const GenerationRequest& g) {
           return generate(g, nullptr, Clock::now(), stop);
         }).status();
}

Result<PreparedPrompt> LlmInstance::take_prompt(const GenerationRequest& request,
                                                std::unique_ptr<PreparedGeneration> prepared) const {
  if (prepared == nullptr) return prepare(*weights_, request, sequence_tokens());
  auto* own = dynamic_cast<PreparedPrompt*>(prepared.get());
  if (own == nullptr) return invalid_argument_error("the request was prepared by another backend");
  return std::move(*own);
}

}  // namespace modelpool::llama
