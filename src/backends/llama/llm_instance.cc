#include "backends/llama/llm_instance.h"

#include <cstring>

namespace modelpool::llama {
namespace {

// KServe BYTES: each element is a 4-byte little-endian length and the bytes.
Result<std::string> first_bytes_element(const Tensor& t) {
  if (t.datatype != "BYTES") {
    return invalid_argument_error("input '" + t.name + "': datatype " + t.datatype + ", expected BYTES");
  }
  if (t.data.size() < 4) return invalid_argument_error("input '" + t.name + "': no element");
  std::uint32_t len = 0;
  std::memcpy(&len, t.data.data(), 4);
  if (t.data.size() - 4 < len) return invalid_argument_error("input '" + t.name + "': truncated element");
  return t.data.substr(4, len);
}

std::string bytes_element(const std::string& s) {
  std::string out(4, '\0');
  const auto len = static_cast<std::uint32_t>(s.size());
  std::memcpy(out.data(), &len, 4);
  return out + s;
}

}  // namespace

Status LlmInstance::run(const Request& request, Sink& sink, std::stop_token stop) {
  if (request.inputs.empty()) return invalid_argument_error("inputs: need one BYTES tensor with the prompt");
  auto prompt = first_bytes_element(request.inputs[0]);
  if (!prompt.ok()) return prompt.status();
  GenerationRequest g;
  g.prompt = *prompt;
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
  auto prepared = prepare(*weights_, g, sequence_tokens());
  if (!prepared.ok()) return prepared.status();
  auto result = generate(g, std::move(*prepared), Clock::now(), stop);
  if (!result.ok()) return result.status();
  if (result->finish_reason == FinishReason::kCancelled) return cancelled_error("generation stopped");
  if (!sink.write({"text_output", "BYTES", {1}, bytes_element(result->text)})) {
    return cancelled_error("consumer gone");
  }
  return {};
}

}  // namespace modelpool::llama
