#include "server/backend_options.h"

#include "backends/common/option_reader.h"
#include "backends/sim/sim_backend.h"

namespace modelpool::server {

Status apply_llama_options(const ModelConfig& model, LlmOptions* options) {
  OptionReader r(model.options, "llama model '" + model.name + "'");
  auto prefill_chunk = static_cast<std::int64_t>(options->prefill_chunk);
  std::int64_t step_delay_ms = options->step_delay.count();
  r.get("prefill_chunk", &prefill_chunk, 1, 1 << 16);
  r.get("fault_step_delay_ms", &step_delay_ms, 0, 600000);
  if (Status s = r.finish(); !s.ok()) return s;
  if (step_delay_ms > 0 && model.mode != "batched") {
    return invalid_argument_error("llama model '" + model.name +
                                  "': option 'fault_step_delay_ms' applies to mode 'batched' only");
  }
  options->prefill_chunk = static_cast<std::size_t>(prefill_chunk);
  options->step_delay = std::chrono::milliseconds(step_delay_ms);
  return {};
}

Status check_backend_options(const ModelConfig& model) {
  if (model.backend == "llama") {
    LlmOptions ignored;
    return apply_llama_options(model, &ignored);
  }
  if (model.backend == "sim") {
    ModelSpec spec;
    spec.name = model.name;
    spec.backend = model.backend;
    spec.options = model.options;
    return SimConfig::from_options(spec).status();
  }
  return {};
}

}  // namespace modelpool::server
