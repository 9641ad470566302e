// The tts backend through its seam: requests in, encoded audio out. flite
// runs in this process; espeak-ng in worker processes (this test binary,
// started as `worker`: src/testing/test_main.cc).
#include "backends/tts/tts_backend.h"

#include "backends/tts/flite_engine.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <future>
#include <thread>

#include "audio/audio.h"
#include "modelpool/executor.h"
#include "modelpool/registry.h"
#include "modelpool/speech.h"

namespace modelpool::tts {
namespace {

using namespace std::chrono_literals;

ModelSpec tts(std::map<std::string, std::string> options) {
  ModelSpec spec;
  spec.name = "voice";
  spec.backend = "tts";
  spec.options = std::move(options);
  return spec;
}

std::unique_ptr<Instance> flite_instance(std::map<std::string, std::string> options = {}) {
  TtsBackend backend;
  const ModelSpec spec = tts(std::move(options));
  auto weights = backend.load(spec, nullptr);
  EXPECT_TRUE(weights.ok()) << weights.status().message();
  if (!weights.ok()) return nullptr;
  auto instance = backend.instantiate(*weights, spec);
  EXPECT_TRUE(instance.ok()) << instance.status().message();
  return instance.ok() ? std::move(*instance) : nullptr;
}

// Runs a speech request: its outputs, or the run's error.
Result<speech::Speech> speak(Instance& instance, std::string_view text, speech::SpeakOptions options = {}) {
  CollectSink sink;
  if (Status s = instance.run(speech::speech_request(text, options), sink, {}); !s.ok()) return s;
  return speech::read_speech_outputs(sink.outputs);
}

Result<speech::Speech> speak(Model& model, std::string_view text, speech::SpeakOptions options = {}) {
  CollectSink sink;
  Result<InferStats> r = model.infer(speech::speech_request(text, options), sink, kNoDeadline, {});
  if (!r.ok()) return r.status();
  return speech::read_speech_outputs(sink.outputs);
}

// The samples of a WAV answer, checked to be one.
audio::Pcm decode_wav(const speech::Speech& speech) {
  EXPECT_EQ(speech.audio.substr(0, 4), "RIFF");
  EXPECT_EQ(speech.audio.substr(8, 4), "WAVE");
  Result<audio::Pcm> pcm = audio::decode(speech.audio, {});
  EXPECT_TRUE(pcm.ok()) << pcm.status().message();
  if (!pcm.ok()) return {};
  EXPECT_EQ(pcm->sample_rate, speech.sample_rate);
  return std::move(*pcm);
}

double rms(const audio::Pcm& pcm) {
  double sum = 0;
  for (float s : pcm.samples) sum += static_cast<double>(s) * s;
  return pcm.samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(pcm.samples.size()));
}

constexpr const char* kSentence = "The quick brown fox jumps over the lazy dog.";

TEST(TtsBackend, DescribesItselfAsData) {
  TtsBackend backend;
  const BackendInfo& info = backend.info();
  EXPECT_EQ(info.name, "tts");
  EXPECT_TRUE(has(info.capabilities, Capability::kSpeak));
  EXPECT_TRUE(has(info.capabilities, Capability::kInfer));
  EXPECT_FALSE(info.needs_path);
  EXPECT_TRUE(check_schema(info.options).ok()) << check_schema(info.options).message();
  EXPECT_TRUE(default_catalog().find("tts").ok());
}

TEST(TtsBackend, FliteSaysASentenceAsWav) {
  auto instance = flite_instance();
  ASSERT_TRUE(instance);
  Result<speech::Speech> out = speak(*instance, kSentence);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->sample_rate, 16000);  // slt, the default voice
  const audio::Pcm pcm = decode_wav(*out);
  EXPECT_GT(pcm.seconds(), 1.5);
  EXPECT_LT(pcm.seconds(), 6.0);
  EXPECT_GT(rms(pcm), 0.01);
}

TEST(TtsBackend, EveryFormatStartsAsItsContainerDoes) {
  auto instance = flite_instance({{"voice", "kal16"}});
  ASSERT_TRUE(instance);
  for (const speech::SpeechFormat& f : speech::speech_formats()) {
    Result<speech::Speech> out = speak(*instance, "Testing every format.", {.voice = "", .speed = 1.0, .format = std::string(f.name)});
    ASSERT_TRUE(out.ok()) << f.name << ": " << out.status().message();
    const std::string& a = out->audio;
    ASSERT_GT(a.size(), 64u) << f.name;
    if (f.name == "wav") {
      EXPECT_EQ(decode_wav(*out).sample_rate, 16000);
    } else if (f.name == "pcm") {
      EXPECT_EQ(out->sample_rate, 16000);
      EXPECT_EQ(a.size() % 2, 0u);
      EXPECT_GT(a.size() / 2.0 / 16000, 0.5);  // seconds of 16-bit samples
    } else if (f.name == "mp3") {
      const bool id3 = a.compare(0, 3, "ID3") == 0;
      const bool sync = static_cast<unsigned char>(a[0]) == 0xFF && (static_cast<unsigned char>(a[1]) & 0xE0) == 0xE0;
      EXPECT_TRUE(id3 || sync) << "mp3 starts with " << a.substr(0, 4);
    } else if (f.name == "opus") {
      EXPECT_EQ(a.substr(0, 4), "OggS");
      EXPECT_NE(a.substr(0, 200).find("OpusHead"), std::string::npos);
      EXPECT_EQ(out->sample_rate, 16000);  // slt speaks at 16 kHz, a rate Opus takes as it is
    } else if (f.name == "flac") {
      EXPECT_EQ(a.substr(0, 4), "fLaC");
      EXPECT_EQ(out->sample_rate, 16000);
    } else {
      ADD_FAILURE() << "a format this test does not know: " << f.name;
    }
  }
}

TEST(TtsBackend, TheRequestsVoiceIsTheOneThatSpeaks) {
  auto instance = flite_instance();
  ASSERT_TRUE(instance);
  Result<speech::Speech> slt = speak(*instance, kSentence);
  Result<speech::Speech> kal = speak(*instance, kSentence, {.voice = "kal"});
  Result<speech::Speech> rms_voice = speak(*instance, kSentence, {.voice = "rms"});
  ASSERT_TRUE(slt.ok() && kal.ok() && rms_voice.ok());
  EXPECT_EQ(kal->sample_rate, 8000);
  EXPECT_NE(slt->audio, rms_voice->audio);
  EXPECT_NE(decode_wav(*slt).samples.size(), decode_wav(*rms_voice).samples.size());
}

TEST(TtsBackend, SpeedTwoIsClearlyShorter) {
  auto instance = flite_instance();
  ASSERT_TRUE(instance);
  Result<speech::Speech> normal = speak(*instance, kSentence);
  Result<speech::Speech> fast = speak(*instance, kSentence, {.voice = "", .speed = 2.0});
  ASSERT_TRUE(normal.ok() && fast.ok());
  EXPECT_LT(decode_wav(*fast).seconds(), 0.7 * decode_wav(*normal).seconds());
}

void expect_invalid(const Result<speech::Speech>& r, std::string_view needle) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().message();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
}

TEST(TtsBackend, BadRequestsAreInvalidArgumentsNamingTheProblem) {
  auto instance = flite_instance();
  ASSERT_TRUE(instance);
  expect_invalid(speak(*instance, "Hi.", {.voice = "alloy"}), "unknown flite voice 'alloy'; available: kal, kal16, slt, rms, awb");
  expect_invalid(speak(*instance, "Hi.", {.voice = "", .speed = 1.0, .format = "aac"}), "unknown response_format 'aac'");
  expect_invalid(speak(*instance, "  \n"), "empty");
  expect_invalid(speak(*instance, std::string(4097, 'a')), "4097 characters; the limit is 4096");
  // The instance is fine after all of them.
  EXPECT_TRUE(speak(*instance, "Still here.").ok());
}

TEST(TtsBackend, TheLimitCountsCharactersNotBytes) {
  EXPECT_EQ(count_characters("Xin chào"), 8u);  // 'à' is two bytes
  auto instance = flite_instance({{"max_characters", "10"}});
  ASSERT_TRUE(instance);
  expect_invalid(speak(*instance, "eleven char"), "11 characters; the limit is 10");
  EXPECT_TRUE(speak(*instance, "ten chàrs.").ok());  // 11 bytes, 10 characters
}

TEST(TtsBackend, OptionsAreCheckedBeforeLoading) {
  TtsBackend backend;
  ServeOptions serve;
  Status s = backend.check(tts({{"voice", "alloy"}}), serve);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown flite voice 'alloy'"), std::string::npos) << s.message();
  s = backend.check(tts({{"engine", "festival"}}), serve);
  EXPECT_NE(s.message().find("one of flite espeak-ng"), std::string::npos) << s.message();
  EXPECT_TRUE(backend.check(tts({}), serve).ok());  // flite serves in threads
}

TEST(TtsBackend, EspeakIsRefusedInThreadIsolation) {
  TtsBackend backend;
  ServeOptions serve;  // isolation = "thread"
  Status s = backend.check(tts({{"engine", "espeak-ng"}}), serve);
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("espeak-ng"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("process globals"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("isolation = \"process\""), std::string::npos) << s.message();
  serve.isolation = "process";
  EXPECT_TRUE(backend.check(tts({{"engine", "espeak-ng"}}), serve).ok());
}

// ---- espeak-ng in worker processes ------------------------------------------

ServeOptions process_serve(std::size_t workers) {
  ServeOptions s;
  s.isolation = "process";
  s.min_instances = s.max_instances = workers;
  s.process.heartbeat_interval = 250ms;
  s.process.hang_grace = 1000ms;
  s.process.restart_backoff_max = 1000ms;
  s.process.arena_bytes = 8 << 20;
  return s;
}

Result<std::unique_ptr<Model>> open_in_workers(const ModelSpec& spec, std::size_t workers) {
  Registry registry(RegistryOptions{}, default_catalog());
  auto backend = default_catalog().find("tts");
  if (!backend.ok()) return backend.status();
  auto executor = default_catalog().find_executor("process");
  if (!executor.ok()) return executor.status();
  return (*executor)->open(**backend, registry, spec, process_serve(workers));
}

TEST(TtsEspeak, SpeaksEnglishAndVietnameseInWorkers) {
  auto model = open_in_workers(tts({{"engine", "espeak-ng"}}), 2);
  ASSERT_TRUE(model.ok()) << model.status().message();
  Result<speech::Speech> en = speak(**model, kSentence);
  ASSERT_TRUE(en.ok()) << en.status().message();
  EXPECT_EQ(en->sample_rate, 22050);
  const audio::Pcm en_pcm = decode_wav(*en);
  EXPECT_GT(en_pcm.seconds(), 1.5);
  EXPECT_LT(en_pcm.seconds(), 6.0);
  EXPECT_GT(rms(en_pcm), 0.01);

  Result<speech::Speech> vi =
      speak(**model, "Xin chào, hôm nay trời đẹp quá. Tôi đang học tiếng Việt.", {.voice = "vi"});
  ASSERT_TRUE(vi.ok()) << vi.status().message();
  const audio::Pcm vi_pcm = decode_wav(*vi);
  EXPECT_EQ(vi_pcm.sample_rate, 22050);
  EXPECT_GT(vi_pcm.seconds(), 1.5);
  EXPECT_LT(vi_pcm.seconds(), 8.0);
  EXPECT_GT(rms(vi_pcm), 0.01);

  // Speed up to 4 (past espeak's documented 450 wpm); slower than it can
  // go is refused, not clamped.
  Result<speech::Speech> fast = speak(**model, kSentence, {.voice = "", .speed = 2.0});
  ASSERT_TRUE(fast.ok()) << fast.status().message();
  EXPECT_LT(decode_wav(*fast).seconds(), 0.7 * en_pcm.seconds());
  Result<speech::Speech> fastest = speak(**model, kSentence, {.voice = "", .speed = 4.0});
  ASSERT_TRUE(fastest.ok()) << fastest.status().message();
  EXPECT_LT(decode_wav(*fastest).seconds(), 0.4 * en_pcm.seconds());
  expect_invalid(speak(**model, kSentence, {.voice = "", .speed = 0.25}), "no slower than 80 words per minute");
  expect_invalid(speak(**model, kSentence, {.voice = "atlantean"}), "unknown espeak-ng voice 'atlantean'; available:");
  EXPECT_TRUE((*model)->shutdown(5s).ok());
}

TEST(TtsEspeak, AnUnknownDefaultVoiceFailsTheLoadByName) {
  auto model = open_in_workers(tts({{"engine", "espeak-ng"}, {"voice", "atlantean"}}), 1);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("'atlantean'"), std::string::npos) << model.status().message();
}

TEST(TtsEspeak, WorkersSpeakInParallelAndSurviveAKilledOne) {
  auto opened = open_in_workers(tts({{"engine", "espeak-ng"}, {"voice", "vi"}}), 2);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Model& model = **opened;
  const std::vector<int> pids = model.stats().workers->pids;
  ASSERT_EQ(pids.size(), 2u);

  // Four callers at once over two workers: each worker takes its share.
  auto round = [&] {
    std::vector<std::future<Status>> calls;
    for (int i = 0; i < 4; ++i) {
      calls.push_back(std::async(std::launch::async, [&model, i] {
        Result<speech::Speech> r = speak(model, "Một hai ba bốn năm sáu bảy tám chín mười, lần " + std::to_string(i));
        if (!r.ok()) return r.status();
        return rms(decode_wav(*r)) > 0.01 ? Status() : internal_error("silent audio");
      }));
    }
    for (auto& c : calls) EXPECT_TRUE(c.get().ok());
  };
  round();
  EXPECT_EQ(model.stats().workers->succeeded, 4u);

  ASSERT_EQ(kill(pids[0], SIGKILL), 0);
  round();  // on the survivor, then on the replacement
  bool replaced = false;
  for (int i = 0; i < 500 && !replaced; ++i) {
    const WorkerStats w = *model.stats().workers;
    replaced = w.restarts >= 1 && w.pids.size() == 2;
    if (!replaced) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(replaced);
  round();
  EXPECT_GE(model.stats().workers->succeeded, 12u);
  EXPECT_TRUE(model.shutdown(5s).ok());
}

}  // namespace
}  // namespace modelpool::tts

// ---- Figures (not asserted) -------------------------------------------------
//
// build/bin/modelpool_tests --gtest_also_run_disabled_tests --gtest_filter='*TtsFigures*'
// prints, per engine and voice: load and instance creation time, the real-
// time factor of a ~60-word paragraph (synthesis seconds / audio seconds,
// wav encoding included), Instance::bytes(), and the PSS of a worker
// process serving it.

#include "modelpool/memory.h"

namespace modelpool::tts {
namespace {

constexpr const char* kParagraph =
    "The library opens at nine in the morning and closes at six in the evening, except on Sundays, "
    "when it stays closed all day. Visitors may borrow up to five books at a time for three weeks. "
    "Late returns cost ten cents a day, and lost books must be replaced or paid for. The reading room "
    "on the second floor is quiet, bright and open to everyone.";
constexpr const char* kVietnameseParagraph =
    "Thư viện mở cửa lúc chín giờ sáng và đóng cửa lúc sáu giờ chiều, trừ ngày chủ nhật. Mỗi người có "
    "thể mượn tối đa năm cuốn sách trong ba tuần. Trả sách muộn phải trả mười nghìn đồng mỗi ngày, và "
    "sách bị mất phải được thay thế hoặc bồi thường. Phòng đọc trên tầng hai yên tĩnh, sáng sủa và mở "
    "cửa cho tất cả mọi người.";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void measure_rtf(Model& model, const std::string& label, const char* text, const std::string& voice) {
  // One run to warm up, then the best of three.
  ASSERT_TRUE(speak(model, text, {.voice = voice, .speed = 1.0}).ok());
  double best = 1e9, audio_s = 0;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Result<speech::Speech> r = speak(model, text, {.voice = voice, .speed = 1.0});
    const double took = seconds_since(t0);
    ASSERT_TRUE(r.ok()) << r.status().message();
    best = std::min(best, took);
    audio_s = decode_wav(*r).seconds();
  }
  std::printf("%-22s %5.2f s of audio in %6.3f s: RTF %.3f\n", label.c_str(), audio_s, best, best / audio_s);
}

TEST(TtsFigures, DISABLED_Print) {
  std::printf("words in the paragraph: %zu\n",
              static_cast<std::size_t>(std::count(kParagraph, kParagraph + std::strlen(kParagraph), ' ') + 1));
  // flite in this process: load (voice registration) and creation.
  for (const std::string& voice : FliteEngine::voices()) {
    TtsBackend backend;
    const ModelSpec spec = tts({{"voice", voice}});
    auto t0 = std::chrono::steady_clock::now();
    auto weights = backend.load(spec, nullptr);
    const double load_s = seconds_since(t0);
    ASSERT_TRUE(weights.ok());
    t0 = std::chrono::steady_clock::now();
    auto instance = backend.instantiate(*weights, spec);
    const double create_s = seconds_since(t0);
    ASSERT_TRUE(instance.ok());
    t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE((*instance)->warmup().ok());
    std::printf("flite %-6s load %.1f ms, create %.3f ms, warmup %.1f ms, Instance::bytes %zu\n", voice.c_str(),
                load_s * 1e3, create_s * 1e3, seconds_since(t0) * 1e3, (*instance)->bytes());
  }
  // Each engine in one worker process: RTF through the whole path, and the
  // worker's PSS once it has spoken.
  struct Case {
    std::map<std::string, std::string> options;
    std::vector<std::pair<std::string, const char*>> voices;  // voice, text
  };
  const std::vector<Case> cases = {
      {{{"engine", "flite"}}, {{"kal", kParagraph}, {"kal16", kParagraph}, {"slt", kParagraph}, {"rms", kParagraph}, {"awb", kParagraph}}},
      {{{"engine", "espeak-ng"}}, {{"en-us", kParagraph}, {"vi", kVietnameseParagraph}}},
  };
  for (const Case& c : cases) {
    const auto t0 = std::chrono::steady_clock::now();
    auto model = open_in_workers(tts(c.options), 1);
    ASSERT_TRUE(model.ok()) << model.status().message();
    std::printf("%s: worker started, loaded and warmed up in %.0f ms\n", c.options.at("engine").c_str(),
                seconds_since(t0) * 1e3);
    for (const auto& [voice, text] : c.voices) measure_rtf(**model, c.options.at("engine") + " " + voice, text, voice);
    const int pid = (*model)->stats().workers->pids.at(0);
    Result<std::size_t> pss = read_pss_bytes(pid);
    std::printf("%s worker PSS after speaking: %.1f MiB\n", c.options.at("engine").c_str(),
                pss.ok() ? *pss / 1048576.0 : -1.0);
    EXPECT_TRUE((*model)->shutdown(5s).ok());
  }
}

}  // namespace
}  // namespace modelpool::tts
