// The stt backend: speech to text on pocketsphinx (CMU Sphinx, Debian's
// 5prealpha) with Debian's US English model by default.
//
// A model transcribes (Capability::kTranscribe) through kInfer requests
// as speech.h describes them: an audio file or samples in, the text, its
// segments and, when asked, its words with times out. Its options
// (stt_config.h, stt_options()) choose the acoustic model, the dictionary
// and one search: a language model (free speech, the default), a JSGF
// grammar or a keyword list.
//
//   load()         checks the options, maps the acoustic model's shared
//                  tables (stt_weights.h) and builds one decoder to prove
//                  the configuration, then frees it: a grammar that does not
//                  parse fails here, once, with pocketsphinx's reason.
//   instantiate()  builds a decoder (decoder.h: about 0.4 s and 95 MiB with
//                  the en-us language model; creation is serialized per
//                  process).
//   run()          SttInstance::run (stt_instance.h).
#pragma once

#include <memory>

#include "modelpool/backend.h"

namespace modelpool::stt {

class SttBackend final : public Backend {
 public:
  const BackendInfo& info() const override;
  // The schema and the rules between options (SttConfig::from_options),
  // without loading anything.
  Status check(const ModelSpec& spec, const ServeOptions& serve) const override;
  Result<std::shared_ptr<const Weights>> load(const ModelSpec& spec, const ProgressFn& progress) override;
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights> weights,
                                                const ModelSpec& spec) override;
};

}  // namespace modelpool::stt
