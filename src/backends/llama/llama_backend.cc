#include "backends/llama/llama_backend.h"

#include <unistd.h>

#include <algorithm>

#include "backends/common/option_reader.h"
#include "backends/llama/exclusive_context.h"

namespace modelpool::llama {

std::size_t machine_cores() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<std::size_t>(n) : 1;
}

namespace {

struct ContextOptions {
  std::int64_t context = 2048;
  std::int64_t threads = 0;
  std::int64_t batch = 512;
};

Result<ContextOptions> read_options(const ModelSpec& spec) {
  ContextOptions o;
  OptionReader r(spec.options, "llama model '" + spec.name + "'");
  r.get("context", &o.context, 16, 1 << 22);
  r.get("threads", &o.threads, 0, 1024);
  r.get("batch", &o.batch, 1, 1 << 16);
  if (Status s = r.finish(); !s.ok()) return s;
  if (o.threads == 0) o.threads = static_cast<std::int64_t>(machine_cores());
  return o;
}

}  // namespace

Result<LlmOptions> llm_options(const ModelSpec& spec, const ServeOptions& serve) {
  LlmOptions o;
  o.mode = serve.mode == ServeOptions::Mode::kExclusive ? LlmMode::kExclusive : LlmMode::kBatched;
  o.instances = std::max<std::size_t>(1, serve.max_instances);
  o.slots = serve.slots;
  o.context = serve.context;
  o.threads = serve.threads;
  o.max_queue = serve.max_queue;
  OptionReader r(spec.options, "llama model '" + spec.name + "'");
  auto prefill_chunk = static_cast<std::int64_t>(o.prefill_chunk);
  std::int64_t step_delay_ms = o.step_delay.count();
  r.get("prefill_chunk", &prefill_chunk, 1, 1 << 16);
  r.get("fault_step_delay_ms", &step_delay_ms, 0, 600000);
  if (Status s = r.finish(); !s.ok()) return s;
  if (step_delay_ms > 0 && o.mode != LlmMode::kBatched) {
    return invalid_argument_error("llama model '" + spec.name +
                                  "': option 'fault_step_delay_ms' applies to mode 'batched' only");
  }
  o.prefill_chunk = static_cast<std::size_t>(prefill_chunk);
  o.step_delay = std::chrono::milliseconds(step_delay_ms);
  return o;
}

Status LlamaBackend::check(const ModelSpec& spec, const ServeOptions& serve) const {
  return llm_options(spec, serve).status();
}

const BackendInfo& LlamaBackend::info() const {
  static const BackendInfo info{"llama", "GGUF language models through llama.cpp",
                                Capability::kGenerate | Capability::kInfer, true, true, {}};
  return info;
}

Result<std::shared_ptr<const Weights>> LlamaBackend::load(const ModelSpec& spec,
                                                          const ProgressFn& progress) {
  if (auto o = read_options(spec); !o.ok()) return o.status();
  auto w = LlamaWeights::load(spec.path, progress);
  if (!w.ok()) return w.status();
  return std::shared_ptr<const Weights>(*w);
}

Result<std::unique_ptr<Instance>> LlamaBackend::instantiate(std::shared_ptr<const Weights> weights,
                                                            const ModelSpec& spec) {
  auto o = read_options(spec);
  if (!o.ok()) return o.status();
  auto w = std::dynamic_pointer_cast<const LlamaWeights>(weights);
  if (!w) return invalid_argument_error("llama model '" + spec.name + "': weights are not llama weights");
  auto c = ExclusiveContext::create(std::move(w), static_cast<std::size_t>(o->context),
                                    static_cast<std::size_t>(o->threads),
                                    static_cast<std::size_t>(o->batch),
                                    std::make_shared<ComputeGate>(1));
  if (!c.ok()) return c.status();
  return std::unique_ptr<Instance>(std::move(*c));
}

}  // namespace modelpool::llama
