#include "backends/llama/llama_backend.h"

#include <unistd.h>

#include <algorithm>

#include "backends/llama/exclusive_context.h"
#include "backends/llama/offload.h"

namespace modelpool::llama {

std::size_t machine_cores() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<std::size_t>(n) : 1;
}

namespace {

const BackendInfo& llama_info() {
  static const BackendInfo info{
      "llama",
      "GGUF language models through llama.cpp",
      Capability::kGenerate | Capability::kInfer,
      /*needs_path=*/true,
      /*batching=*/true,
      {
          OptionSpec::integer("batch", 1, 1 << 16, "512",
                              "most tokens one decoding call takes (llama n_batch; batched mode "
                              "raises it to `slots`)"),
          OptionSpec::integer("prefill_chunk", 1, 1 << 16, "64",
                              "batched: prompt tokens per waiting sequence and step while others "
                              "decode, until the step cost model has measured enough steps (or "
                              "always, with prefill_stall 0)"),
          OptionSpec::number("prefill_stall", 0, 100, "2",
                             "batched: while others decode, a step with prompt tokens may take "
                             "this many times a decoding step (from a cost model of the measured "
                             "steps); 0: a fixed prefill_chunk"),
          OptionSpec::integer("prefix_cache_tokens", 0, 1 << 24, "8192",
                              "prompt tokens whose KV the prefix cache keeps for later requests, "
                              "shared by all of the model's sequences (0: no cache)"),
          OptionSpec::integer("prefix_cache_mb", 0, 1 << 20, "256",
                              "most MiB of KV the prefix cache keeps (0: no cache)"),
          OptionSpec::integer("prefix_block_tokens", 1, 4096, "16",
                              "tokens per prefix-cache block: prompts share cached KV in whole "
                              "blocks"),
          OptionSpec::integer(
              "fault_step_delay_ms", 0, 600'000, "0",
              "fault injection for tests (batched): every decoding step also sleeps this long"),
          OptionSpec::integer("gpu_layers", -1, 1 << 16, "0",
                              "layers on the GPU (llama n_gpu_layers): 0 none, -1 all, N the last "
                              "N; needs a CUDA build (README: With a GPU)"),
          OptionSpec::string("device", "",
                             "the GPU for gpu_layers, a ggml device name such as CUDA0; empty: "
                             "every GPU, the layers split between them"),
      }};
  return info;
}

std::string context_of(const ModelSpec& spec) {
  return "llama model '" + spec.name + "'";
}

Result<OptionValues> read_options(const ModelSpec& spec) {
  return resolve(llama_info().options, spec.options, context_of(spec));
}

// The load options: where the layers go, on this machine's devices.
Result<Offload> read_offload(const ModelSpec& spec, const OptionValues& values) {
  return resolve_offload(values.integer("gpu_layers"), values.string("device"), context_of(spec));
}

// The rules between options and serving settings (LlamaBackend::check).
Status check_rules(const ModelSpec& spec, const OptionValues& values, const ServeOptions& serve) {
  if (values.integer("fault_step_delay_ms") > 0 && serve.mode != ServeOptions::Mode::kBatched) {
    return invalid_argument_error("llama model '" + spec.name +
                                  "': option 'fault_step_delay_ms' applies to mode 'batched' only");
  }
  if (auto offload = read_offload(spec, values); !offload.ok()) return offload.status();
  return {};
}

}  // namespace

Result<LlmOptions> llm_options(const ModelSpec& spec, const ServeOptions& serve) {
  auto values = read_options(spec);
  if (!values.ok()) return values.status();
  if (Status s = check_rules(spec, *values, serve); !s.ok()) return s;
  LlmOptions o;
  o.mode = serve.mode == ServeOptions::Mode::kExclusive ? LlmMode::kExclusive : LlmMode::kBatched;
  o.instances = std::max<std::size_t>(1, serve.max_instances);
  o.min_instances = serve.min_instances;
  o.autoscale = serve.autoscale;
  o.memory_budget = serve.memory_budget;
  o.on_growth_refused = serve.on_growth_refused;
  o.slots = serve.slots;
  o.context = serve.context;
  o.threads = serve.threads;
  o.max_queue = serve.max_queue;
  o.batch = static_cast<std::size_t>(values->integer("batch"));
  o.prefill_chunk = static_cast<std::size_t>(values->integer("prefill_chunk"));
  o.prefill_stall = values->number("prefill_stall");
  o.step_delay = std::chrono::milliseconds(values->integer("fault_step_delay_ms"));
  o.prefix_cache_tokens = static_cast<std::size_t>(values->integer("prefix_cache_tokens"));
  o.prefix_cache_bytes = static_cast<std::size_t>(values->integer("prefix_cache_mb")) << 20;
  o.prefix_block_tokens = static_cast<std::size_t>(values->integer("prefix_block_tokens"));
  return o;
}

Result<ModelSpec> weights_spec(const ModelSpec& spec) {
  auto values = read_options(spec);
  if (!values.ok()) return values.status();
  ModelSpec out = spec;
  out.options.clear();
  // Written as the defaults are left out and numbers are printed, so that
  // "gpu_layers = 0", "00" and no gpu_layers at all name one copy.
  if (const std::int64_t layers = values->integer("gpu_layers"); layers != 0) {
    out.options["gpu_layers"] = std::to_string(layers);
  }
  if (const std::string& device = values->string("device"); !device.empty()) {
    out.options["device"] = device;
  }
  return out;
}

ComputeThreads LlamaBackend::compute_threads(const ModelSpec&, const ServeOptions& serve) const {
  const std::size_t threads = serve.threads != 0 ? serve.threads : machine_cores();
  const bool batched = serve.mode == ServeOptions::Mode::kBatched;
  const std::size_t contexts = std::max<std::size_t>(1, serve.max_instances);
  return {threads, batched ? threads : std::max<std::size_t>(1, threads / contexts)};
}

Status LlamaBackend::check(const ModelSpec& spec, const ServeOptions& serve) const {
  auto values = read_options(spec);
  if (!values.ok()) return values.status();
  return check_rules(spec, *values, serve);
}

const BackendInfo& LlamaBackend::info() const {
  return llama_info();
}

Result<std::shared_ptr<const Weights>> LlamaBackend::load(const ModelSpec& spec,
                                                          const ProgressFn& progress) {
  auto values = read_options(spec);
  if (!values.ok()) return values.status();
  auto offload = read_offload(spec, *values);
  if (!offload.ok()) return offload.status();
  auto w = LlamaWeights::load(spec.path, progress, /*mmap=*/true, *offload);
  if (!w.ok()) return w.status();
  return std::shared_ptr<const Weights>(*w);
}

Result<std::unique_ptr<Instance>> LlamaBackend::instantiate(std::shared_ptr<const Weights> weights,
                                                            const ModelSpec& spec) {
  // One context as an exclusive model's default serving settings make it.
  ServeOptions serve;
  serve.mode = ServeOptions::Mode::kExclusive;
  auto o = llm_options(spec, serve);
  if (!o.ok()) return o.status();
  auto w = std::dynamic_pointer_cast<const LlamaWeights>(weights);
  if (!w) return invalid_argument_error("llama model '" + spec.name + "': weights are not llama weights");
  const std::size_t threads = o->threads == 0 ? machine_cores() : o->threads;
  auto c = ExclusiveContext::create(std::move(w), o->context, threads, o->batch,
                                    std::make_shared<ComputeGate>(1));
  if (!c.ok()) return c.status();
  return std::unique_ptr<Instance>(std::move(*c));
}

}  // namespace modelpool::llama
