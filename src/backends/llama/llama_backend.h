// The llama backend: GGUF models through llama.cpp.
//
// load() maps the model file once (LlamaWeights); instantiate() makes an
// exclusive context over it. Options (ModelSpec::options):
//   context  KV-cache tokens of a context (default 2048)
//   threads  compute threads of a context (default: the cores)
//   batch    most tokens per decoding call (default 512)
// LlmService (include/modelpool/llm.h) builds on the same pieces and adds
// batched mode and the generation API.
#pragma once

#include "backends/llama/llm_service.h"
#include "modelpool/backend.h"
#include "modelpool/model.h"

namespace modelpool::llama {

class LlamaBackend final : public Backend {
 public:
  const BackendInfo& info() const override;
  Result<std::shared_ptr<const Weights>> load(const ModelSpec& spec,
                                              const ProgressFn& progress) override;
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights> weights,
                                                const ModelSpec& spec) override;
  Status check(const ModelSpec& spec, const ServeOptions& serve) const override;
  // An LlmService (llm_service.h) behind the Model seam: batched mode runs
  // continuous batching, exclusive mode a pool of contexts.
  Result<std::unique_ptr<Model>> open(Registry& registry, const ModelSpec& spec,
                                      const ServeOptions& serve) override;
};

// The LlmService settings of a served model: the serving settings plus the
// backend's options (prefill_chunk, fault_step_delay_ms). kInvalidArgument
// naming a bad or unknown option.
Result<LlmOptions> llm_options(const ModelSpec& spec, const ServeOptions& serve);

// The machine's cores, for "0 threads means all of them".
std::size_t machine_cores();

}  // namespace modelpool::llama
