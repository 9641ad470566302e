#include "backends/tts/flite_engine.h"

#include <flite/flite.h>

#include <array>
#include <memory>
#include <mutex>
#include <string>

extern "C" {
// Each voice library defines its register function; flite's headers do not
// declare them.
cst_voice* register_cmu_us_kal(const char* voxdir);
cst_voice* register_cmu_us_kal16(const char* voxdir);
cst_voice* register_cmu_us_slt(const char* voxdir);
cst_voice* register_cmu_us_rms(const char* voxdir);
cst_voice* register_cmu_us_awb(const char* voxdir);
}

namespace modelpool::tts {
namespace {

struct VoiceEntry {
  const char* name;
  cst_voice* (*register_voice)(const char*);
};

constexpr std::array<VoiceEntry, 5> kVoices = {{
    {"kal", register_cmu_us_kal},
    {"kal16", register_cmu_us_kal16},
    {"slt", register_cmu_us_slt},
    {"rms", register_cmu_us_rms},
    {"awb", register_cmu_us_awb},
}};

// The process's registered voices. flite's register functions and the
// lexicon they share test-then-set globals without a lock, so every
// registration happens under mu; a voice, once here, is never written
// again, and reading it needs no lock.
class Registered {
 public:
  static Registered& get() {
    static Registered r;
    return r;
  }

  // The voice at `index` in kVoices, registered on first use.
  cst_voice* voice(std::size_t index) {
    std::lock_guard lock(mu_);
    if (voices_[index] == nullptr) {
      if (!initialized_) {
        flite_init();
        initialized_ = true;
      }
      voices_[index] = kVoices[index].register_voice(nullptr);
    }
    return voices_[index];
  }

 private:
  std::mutex mu_;
  bool initialized_ = false;                     // guarded by mu_
  std::array<cst_voice*, kVoices.size()> voices_{};  // guarded by mu_; never freed
};

std::ptrdiff_t find_voice(std::string_view name) {
  for (std::size_t i = 0; i < kVoices.size(); ++i) {
    if (name == kVoices[i].name) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

struct UtteranceDeleter {
  void operator()(cst_utterance* u) const { delete_utterance(u); }
};

}  // namespace

const std::vector<std::string>& FliteEngine::voices() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const VoiceEntry& e : kVoices) v.emplace_back(e.name);
    return v;
  }();
  return names;
}

Status FliteEngine::preload(std::string_view voice) {
  const std::ptrdiff_t i = find_voice(voice);
  if (i < 0) return unknown_voice_error("flite", voice, voices());
  if (Registered::get().voice(static_cast<std::size_t>(i)) == nullptr) {
    return internal_error("flite: registering voice '" + std::string(voice) + "' failed");
  }
  return {};
}

Status FliteEngine::check_voice(std::string_view voice) const {
  if (find_voice(voice) < 0) return unknown_voice_error("flite", voice, voices());
  return {};
}

Result<audio::Pcm> FliteEngine::synthesize(std::string_view text, std::string_view voice, double speed,
                                           std::stop_token stop) {
  const std::ptrdiff_t i = find_voice(voice);
  if (i < 0) return unknown_voice_error("flite", voice, voices());
  cst_voice* v = Registered::get().voice(static_cast<std::size_t>(i));
  if (v == nullptr) return internal_error("flite: registering voice '" + std::string(voice) + "' failed");
  if (stop.stop_requested()) return cancelled_error("flite: synthesis stopped");

  std::unique_ptr<cst_utterance, UtteranceDeleter> utt(new_utterance());
  const std::string input(text);
  utt_set_input_text(utt.get(), input.c_str());
  // On the utterance, not the voice: the voice is shared by every thread,
  // and the utterance's features shadow the voice's (utt_init links them).
  flite_feat_set_float(utt->features, "duration_stretch", static_cast<float>(1.0 / speed));
  // flite_do_synth deletes the utterance when a step fails.
  if (flite_do_synth(utt.get(), v, utt_synth) == nullptr) {
    utt.release();
    return internal_error("flite: synthesis failed");
  }
  if (stop.stop_requested()) return cancelled_error("flite: synthesis stopped");
  const cst_wave* w = utt_wave(utt.get());
  if (w == nullptr || cst_wave_sample_rate(w) <= 0) return internal_error("flite: synthesis produced no wave");
  audio::Pcm pcm;
  pcm.sample_rate = cst_wave_sample_rate(w);
  const int channels = cst_wave_num_channels(w) > 0 ? cst_wave_num_channels(w) : 1;
  const int n = cst_wave_num_samples(w);
  pcm.samples.resize(static_cast<std::size_t>(n));
  for (int s = 0; s < n; ++s) pcm.samples[static_cast<std::size_t>(s)] = cst_wave_samples(w)[s * channels] / 32768.0f;
  return pcm;
}

}  // namespace modelpool::tts
