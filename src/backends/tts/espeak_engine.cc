#include "backends/tts/espeak_engine.h"

#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>
#include <string>

namespace modelpool::tts {
namespace {

std::string status_message(espeak_ng_STATUS status) {
  char buf[256] = {};
  espeak_ng_GetStatusCodeMessage(status, buf, sizeof buf);
  return buf;
}

// One synthesis's destination, reached by the callback.
struct Job {
  std::vector<float>* samples;
  std::stop_token stop;
};

// espeak-ng's process state, and the lock every call into it takes.
struct Process {
  std::mutex mu;
  bool initialized = false;   // guarded by mu
  Status init_status;         // guarded by mu: how initialization ended
  int sample_rate = 0;        // guarded by mu
  std::string current_voice;  // guarded by mu: empty when unknown
  Job* job = nullptr;         // guarded by mu: the synthesis running now
};

Process& process() {
  static Process p;
  return p;
}

// Synchronous mode calls this on the synthesizing thread, which holds
// process().mu. Returning 1 aborts the synthesis.
int collect(short* wav, int count, espeak_EVENT*) {
  Job* job = process().job;
  if (job == nullptr) return 1;
  if (wav != nullptr && count > 0) {
    job->samples->reserve(job->samples->size() + static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) job->samples->push_back(wav[i] / 32768.0f);
  }
  return job->stop.stop_requested() ? 1 : 0;
}

// REQUIRES: p.mu held.
Status initialize(Process& p) {
  if (p.initialized) return p.init_status;
  p.initialized = true;
  espeak_ng_InitializePath(nullptr);  // the data path compiled in
  espeak_ng_ERROR_CONTEXT context = nullptr;
  espeak_ng_STATUS s = espeak_ng_Initialize(&context);
  espeak_ng_ClearErrorContext(&context);
  if (s == ENS_OK) s = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, nullptr);
  if (s != ENS_OK) {
    p.init_status = internal_error("espeak-ng: initialization failed: " + status_message(s));
    return p.init_status;
  }
  espeak_SetSynthCallback(collect);
  p.sample_rate = espeak_ng_GetSampleRate();
  return {};
}

// The languages espeak-ng has voices for, sorted. REQUIRES: p.mu held,
// espeak initialized.
std::vector<std::string> languages_locked() {
  std::set<std::string> names;
  for (const espeak_VOICE* const* v = espeak_ListVoices(nullptr); v != nullptr && *v != nullptr; ++v) {
    // languages: a priority byte then a NUL-terminated name, repeated,
    // ending with a zero priority.
    const char* l = (*v)->languages;
    while (l != nullptr && *l != 0) {
      names.insert(l + 1);
      l += 1 + std::char_traits<char>::length(l + 1) + 1;
    }
  }
  return {names.begin(), names.end()};
}

// REQUIRES: p.mu held, espeak initialized.
Status select_voice(Process& p, std::string_view voice) {
  if (p.current_voice == voice) return {};
  const std::string name(voice);
  if (espeak_ng_SetVoiceByName(name.c_str()) != ENS_OK) {
    p.current_voice.clear();
    return unknown_voice_error("espeak-ng", voice, languages_locked());
  }
  p.current_voice = name;
  return {};
}

}  // namespace

Result<std::unique_ptr<EspeakEngine>> EspeakEngine::create() {
  Process& p = process();
  std::lock_guard lock(p.mu);
  if (Status s = initialize(p); !s.ok()) return s;
  return std::unique_ptr<EspeakEngine>(new EspeakEngine());
}

Status EspeakEngine::check_voice(std::string_view voice) const {
  Process& p = process();
  std::lock_guard lock(p.mu);
  return select_voice(p, voice);
}

Result<audio::Pcm> EspeakEngine::synthesize(std::string_view text, std::string_view voice, double speed,
                                            std::stop_token stop) {
  if (speed < kMinSpeed - 1e-9) {
    return invalid_argument_error("espeak-ng speaks no slower than 80 words per minute: 'speed' must be at least " +
                                  std::to_string(kMinSpeed).substr(0, 4) + " (1 = 175 wpm)");
  }
  Process& p = process();
  std::lock_guard lock(p.mu);
  if (Status s = select_voice(p, voice); !s.ok()) return s;
  const int rate = std::max(static_cast<int>(std::lround(espeakRATE_NORMAL * speed)), espeakRATE_MINIMUM);
  if (espeak_ng_STATUS s = espeak_ng_SetParameter(espeakRATE, rate, 0); s != ENS_OK) {
    return internal_error("espeak-ng: setting the rate failed: " + status_message(s));
  }
  audio::Pcm pcm;
  pcm.sample_rate = p.sample_rate;
  Job job{&pcm.samples, stop};
  p.job = &job;
  const std::string input(text);
  const espeak_ng_STATUS s = espeak_ng_Synthesize(input.c_str(), input.size() + 1, 0, POS_CHARACTER, 0,
                                                  espeakCHARS_UTF8, nullptr, nullptr);
  p.job = nullptr;
  if (stop.stop_requested()) return cancelled_error("espeak-ng: synthesis stopped");
  if (s != ENS_OK) return internal_error("espeak-ng: synthesis failed: " + status_message(s));
  return pcm;
}

}  // namespace modelpool::tts
