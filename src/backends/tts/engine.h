// What the tts backend asks of a synthesis engine: text in, mono samples out
// at the voice's own rate. One implementation per library (flite_engine.h,
// espeak_engine.h); the backend (tts_backend.h) reads requests, picks the
// voice and encodes, so an engine knows nothing of tensors or formats.
#pragma once

#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "audio/audio.h"
#include "modelpool/status.h"

namespace modelpool::tts {

class Engine {
 public:
  virtual ~Engine() = default;

  // "flite", "espeak-ng": for messages.
  virtual std::string_view name() const = 0;

  // Ok when `voice` can speak; otherwise kInvalidArgument naming it and
  // listing the voices there are (unknown_voice_error).
  virtual Status check_voice(std::string_view voice) const = 0;

  // Says `text` (UTF-8) with `voice` at `speed` (1: the voice's pace; 2:
  // twice as fast). REQUIRES: check_voice(voice) is ok, speed in
  // [0.25, 4]. Samples at the voice's native rate. kCancelled once `stop`
  // is requested, checked between the engine's steps; kInternal when the
  // engine fails.
  virtual Result<audio::Pcm> synthesize(std::string_view text, std::string_view voice, double speed,
                                        std::stop_token stop) = 0;
};

// kInvalidArgument "unknown ENGINE voice 'V'; available: a, b, c".
Status unknown_voice_error(std::string_view engine, std::string_view voice,
                           const std::vector<std::string>& available);

}  // namespace modelpool::tts
