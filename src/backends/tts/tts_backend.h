// The tts backend: text to speech (Capability::kSpeak, over kInfer tensors
// as modelpool/speech.h describes them) on one of two engines.
//
//   engine = "flite"      CMU Flite: five English voices (flite_engine.h),
//                         served in threads: several instances of a model
//                         synthesize at once in one process.
//   engine = "espeak-ng"  eSpeak NG: over a hundred languages
//                         (espeak_engine.h); its state is process-global,
//                         so check() refuses it unless isolation =
//                         "process" (one instance per worker process).
//
// Options (info().options): engine, voice (the default voice; empty: slt
// for flite, en-us for espeak-ng), max_characters (longer text is a 400,
// 4096 by default, as OpenAI's speech API). A request picks another voice
// with its "voice" parameter, the pace with "speed" and the encoding with
// "response_format" (speech.h); an unknown voice is kInvalidArgument
// naming it and listing the engine's voices.
//
// A run synthesizes at the voice's native rate (flite: 8 or 16 kHz,
// espeak-ng: 22050 Hz) and encodes with audio::encode inside the instance,
// so in a worker process the encoding cost stays in the worker. The
// "sample_rate" output is the encoded audio's rate (48000 for opus, which
// audio::encode resamples to; the native rate otherwise).
#pragma once

#include <cstddef>
#include <string>

#include "modelpool/backend.h"
#include "modelpool/model.h"

namespace modelpool::tts {

struct TtsConfig {
  std::string engine;  // "flite" or "espeak-ng"
  std::string voice;   // the default voice, resolved (never empty)
  std::size_t max_characters = 4096;

  // Reads spec.options through the schema; kInvalidArgument naming a bad
  // or unknown key, or (flite) an unknown voice. espeak-ng's voices are
  // checked when the model loads: knowing them needs espeak-ng
  // initialized, which only the process that serves may do.
  static Result<TtsConfig> from_options(const ModelSpec& spec);
};

class TtsBackend final : public Backend {
 public:
  const BackendInfo& info() const override;
  // The schema, then: espeak-ng needs serve.isolation == "process".
  Status check(const ModelSpec& spec, const ServeOptions& serve) const override;
  // flite: registers the default voice in this process. espeak-ng:
  // initializes it in this process and loads the default voice
  // (kInvalidArgument naming it when espeak-ng does not know it).
  Result<std::shared_ptr<const Weights>> load(const ModelSpec& spec, const ProgressFn& progress) override;
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights> weights,
                                                const ModelSpec& spec) override;
};

// The number of characters (Unicode code points) of UTF-8 `text`, as the
// max_characters limit counts them.
std::size_t count_characters(std::string_view text);

}  // namespace modelpool::tts
