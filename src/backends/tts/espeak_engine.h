// espeak-ng (1.51, Debian's libespeak-ng with espeak-ng-data): formant
// synthesis in over a hundred languages, Vietnamese ("vi") among them.
//
// espeak-ng keeps its whole state in process globals: one initialization
// per process (espeak_ng_Initialize), one current voice, one synthesis at a
// time. This engine initializes it once per process (the first engine
// made), in synchronous mode (samples come back on the calling thread
// through a callback, at 22050 Hz), and serializes every synthesis in the
// process under one lock. Instances in one process therefore take turns:
// the backend serves espeak-ng only with isolation = "process", where each
// worker process holds one instance and workers synthesize in parallel.
//
// Voices: whatever espeak-ng-data holds, named as `espeak-ng --voices`
// lists them: languages ("en-us", "vi", "fr") and voice files
// ("gmw/en-US"), optionally with a variant ("en-us+f3").
// Speed: espeakRATE = 175 words per minute (espeak's default) x speed.
// espeak-ng 1.51 speeds up past its documented 450 wpm (700 wpm, speed 4,
// measured 3.8 times shorter than 175), but never slows below 80 wpm (it
// clamps: 40 wpm came out as long as 80): speeds under 80/175 = 0.46 are
// refused rather than silently clamped.
#pragma once

#include <memory>

#include "backends/tts/engine.h"

namespace modelpool::tts {

class EspeakEngine final : public Engine {
 public:
  // Initializes espeak-ng in this process if no engine did yet. kInternal
  // when it cannot (no espeak-ng-data).
  static Result<std::unique_ptr<EspeakEngine>> create();

  // The slowest speed espeak-ng can honour: 80 wpm over 175.
  static constexpr double kMinSpeed = 80.0 / 175.0;

  std::string_view name() const override { return "espeak-ng"; }
  // Loads the voice to see whether espeak-ng knows it (under the process
  // lock: it changes the current voice).
  Status check_voice(std::string_view voice) const override;
  // kInvalidArgument for a speed under kMinSpeed.
  Result<audio::Pcm> synthesize(std::string_view text, std::string_view voice, double speed,
                                std::stop_token stop) override;

 private:
  EspeakEngine() = default;
};

}  // namespace modelpool::tts
