// flite (CMU Flite 2.2, Debian's flite1-dev): five English voices compiled
// into their own libraries.
//
//   kal    diphone, male, 8 kHz (the oldest; smallest, fastest)
//   kal16  diphone, male, 16 kHz
//   slt    clustergen (statistical parametric), female, 16 kHz
//   rms    clustergen, male, 16 kHz
//   awb    clustergen, male (Scottish English), 16 kHz
//
// Threads: flite keeps each voice as a process-wide singleton (its
// register_cmu_us_* functions return the same cst_voice every time, built
// on first call without a lock), and so is the CMU lexicon under it. This
// engine registers each voice once per process, under a lock, and never
// writes to a voice afterwards: a request's speed goes into its own
// utterance's features, which shadow the voice's (flite links, not copies,
// the voice's features into each utterance). Synthesis itself then only
// reads the voice, and several threads synthesize at once: the evidence is
// in flite_engine_test.cc (TtsFliteConcurrency), which also passes under
//   valgrind --tool=helgrind build/bin/modelpool_tests --gtest_filter='TtsFliteConcurrency*'
// with 0 errors (helgrind instruments libflite's machine code, which
// ThreadSanitizer cannot); without valgrind's default suppressions every
// report is inside glibc (rand()'s state and stdio, guarded by glibc's own
// locks, which helgrind does not model), none in flite. The clustergen voices
// draw their excitation noise from libc's rand() (locked in glibc, shared
// by the process), so their samples vary slightly from run to run; the
// diphone voices are deterministic.
//
// Stopping: the whole text is one flite utterance, and flite cannot be
// interrupted inside one, so a stop is seen before and after it. At the
// measured real-time factors (slt 0.045 on one core) the longest input,
// 4096 characters (~4.5 minutes of speech), takes ~12 s: splitting the
// text into flite's own utterances (as flite_ts_to_speech does) and
// checking between them is the next step.
#pragma once

#include <string>
#include <vector>

#include "backends/tts/engine.h"

namespace modelpool::tts {

class FliteEngine final : public Engine {
 public:
  // The voice names, in the order messages list them.
  static const std::vector<std::string>& voices();
  // Registers `voice` in this process if it is not yet (the first time
  // costs its set-up: a few ms; the voice data is in the library's
  // read-only pages). Thread-safe. kInvalidArgument for an unknown voice.
  static Status preload(std::string_view voice);

  std::string_view name() const override { return "flite"; }
  Status check_voice(std::string_view voice) const override;
  Result<audio::Pcm> synthesize(std::string_view text, std::string_view voice, double speed,
                                std::stop_token stop) override;
};

}  // namespace modelpool::tts
