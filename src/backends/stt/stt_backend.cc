#include "backends/stt/stt_backend.h"

#include <malloc.h>

#include "backends/stt/decoder.h"
#include "backends/stt/stt_config.h"
#include "backends/stt/stt_instance.h"
#include "backends/stt/stt_weights.h"

namespace modelpool::stt {

const BackendInfo& SttBackend::info() const {
  static const BackendInfo info{
      "stt",
      "speech to text on pocketsphinx (US English by default; a language model, a JSGF grammar or keywords)",
      Capability::kInfer | Capability::kTranscribe,
      /*needs_path=*/false,
      /*batching=*/false,
      stt_options(),
  };
  return info;
}

Status SttBackend::check(const ModelSpec& spec, const ServeOptions&) const {
  return SttConfig::from_options(spec).status();
}

Result<std::shared_ptr<const Weights>> SttBackend::load(const ModelSpec& spec, const ProgressFn& progress) {
  Result<SttConfig> config = SttConfig::from_options(spec);
  if (!config.ok()) return config.status();
  std::vector<std::unique_ptr<MappedFile>> shared;
  if (config->mmap) {
    // The files pocketsphinx maps itself with -mmap (binary mdef, sendump):
    // mapped here too, so they stay resident while decoders come and go.
    for (const char* name : {"/mdef", "/sendump"}) {
      Result<std::unique_ptr<MappedFile>> file = MappedFile::map(config->model_dir + name);
      if (!file.ok()) return invalid_argument_error("stt model '" + spec.name + "': " + file.status().message());
      shared.push_back(std::move(*file));
    }
  }
  if (progress) progress(0.1);
  Result<std::unique_ptr<Decoder>> probe = Decoder::create(*config);
  if (!probe.ok()) return invalid_argument_error("stt model '" + spec.name + "': " + probe.status().message());
  const std::size_t probe_bytes = (*probe)->bytes();
  probe->reset();
  // Hand the probe's heap back to the system: a pool that creates its
  // instances later should not sit on ~100 MiB of free heap meanwhile.
  malloc_trim(0);
  if (progress) progress(1.0);
  return std::shared_ptr<const Weights>(
      std::make_shared<const SttWeights>(spec.name, std::move(*config), std::move(shared), probe_bytes));
}

Result<std::unique_ptr<Instance>> SttBackend::instantiate(std::shared_ptr<const Weights> weights,
                                                          const ModelSpec& spec) {
  auto stt = std::dynamic_pointer_cast<const SttWeights>(weights);
  if (!stt) return invalid_argument_error("stt model '" + spec.name + "': weights are not stt weights");
  Result<std::unique_ptr<Decoder>> decoder = Decoder::create(stt->config);
  if (!decoder.ok()) return model_failed_error("stt model '" + spec.name + "': " + decoder.status().message());
  return std::unique_ptr<Instance>(std::make_unique<SttInstance>(std::move(stt), std::move(*decoder)));
}

}  // namespace modelpool::stt
