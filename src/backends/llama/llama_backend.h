// The llama backend: GGUF models through llama.cpp.
//
// load() maps the model file once (LlamaWeights); open() serves an
// LlmService (llm_service.h: batched or exclusive mode, the generation API);
// instantiate() makes one exclusive context as default serving settings
// would (ServeOptions: 2048 tokens, every core).
//
// Options (ModelSpec::options) are its schema, published in info().options
// (`modelpool backends` lists them): batch, prefill_chunk and
// fault_step_delay_ms shape the contexts; gpu_layers and device are load
// options (offload.h: where the layers go), checked against this machine's
// devices by check() and load(). A context's size and threads are serving
// settings (ServeOptions::context, ::threads), not options.
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
  // Its `threads` (0: the cores) in lock-step: batched, one context on all
  // of them; exclusive, each context on its share (a gate keeps the total).
  ComputeThreads compute_threads(const ModelSpec& spec, const ServeOptions& serve) const override;
  // An LlmService (llm_service.h) behind the Model seam: batched mode runs
  // continuous batching, exclusive mode a pool of contexts.
  Result<std::unique_ptr<Model>> open(Registry& registry, const ModelSpec& spec,
                                      const ServeOptions& serve) override;
};

// The LlmService settings of a served model: the serving settings plus the
// backend's options, read through its schema, and checked as
// LlamaBackend::check does. kInvalidArgument naming a bad or unknown option.
Result<LlmOptions> llm_options(const ModelSpec& spec, const ServeOptions& serve);

// The spec a llama model's weights are loaded under (its Registry key): the
// path and the load options, normalised, without the options that shape
// only contexts. Models of one file that differ in those share one copy;
// models with different gpu_layers or device do not. kInvalidArgument as
// llm_options for a bad option.
Result<ModelSpec> weights_spec(const ModelSpec& spec);

// The machine's cores, for "0 threads means all of them".
std::size_t machine_cores();

}  // namespace modelpool::llama
