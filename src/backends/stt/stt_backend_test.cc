#include "backends/stt/stt_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "audio/audio.h"
#include "backends/stt/stt_instance.h"
#include "modelpool/model.h"
#include "modelpool/registry.h"
#include "modelpool/speech.h"

namespace modelpool::stt {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kFox = "the quick brown fox jumps over the lazy dog";
constexpr const char* kStation = "can you tell me how to get to the train station";
constexpr const char* kTurn = "turn left at the next intersection and continue for two miles";

const fs::path& temp_dir() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "stt_test.XXXXXX").string();
    const char* made = mkdtemp(pattern.data());
    return fs::path(made != nullptr ? made : "/tmp");
  }();
  return dir;
}

bool have_flite() { return std::system("command -v flite > /dev/null 2>&1") == 0; }

// `text` spoken by flite's `voice` (slt: 16 kHz), as a WAV file's bytes.
std::string flite_wav(const std::string& text, const std::string& voice = "slt") {
  static std::atomic<int> n{0};
  const fs::path path = temp_dir() / ("say" + std::to_string(n++) + ".wav");
  const std::string command = "flite -voice " + voice + " -t '" + text + "' -o '" + path.string() + "'";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

fs::path write_file(const std::string& name, const std::string& text) {
  const fs::path path = temp_dir() / name;
  std::ofstream(path) << text;
  return path;
}

const char* kDigitsGrammar =
    "#JSGF V1.0;\n"
    "grammar digits;\n"
    "public <digits> = <digit>+;\n"
    "<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;\n";

ModelSpec stt_spec(std::map<std::string, std::string> options = {}) {
  ModelSpec s;
  s.name = "speech";
  s.backend = "stt";
  s.options = std::move(options);
  return s;
}

Request transcription(std::string wav, speech::TranscribeOptions options = {}) {
  return speech::transcription_request(Buffer::adopt(std::move(wav)), options);
}

// Samples of `pcm` as an INT16 request at its rate.
Request sample_request(const audio::Pcm& pcm) {
  const std::vector<std::int16_t> samples = audio::to_int16(pcm);
  std::string bytes(samples.size() * 2, '\0');
  std::memcpy(bytes.data(), samples.data(), bytes.size());
  Request r;
  r.inputs.push_back({"audio", "INT16", {static_cast<std::int64_t>(samples.size())}, Buffer::adopt(std::move(bytes))});
  r.parameters.set("sample_rate", std::int64_t{pcm.sample_rate});
  return r;
}

audio::Pcm pcm_of(const std::string& wav) {
  Result<audio::Pcm> pcm = audio::decode(wav, {});
  EXPECT_TRUE(pcm.ok()) << pcm.status().message();
  return pcm.ok() ? *pcm : audio::Pcm{};
}

Result<speech::Transcript> run(Instance& instance, const Request& request, std::stop_token stop = {}) {
  CollectSink sink;
  if (Status s = instance.run(request, sink, stop); !s.ok()) return s;
  return speech::read_transcript(sink.outputs);
}

// One language-model instance for the suite: building one costs ~0.4 s
// and ~95 MiB.
class SttTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto weights = backend_.load(stt_spec(), nullptr);
    ASSERT_TRUE(weights.ok()) << weights.status().message();
    weights_ = *weights;
    auto inst = backend_.instantiate(weights_, stt_spec());
    ASSERT_TRUE(inst.ok()) << inst.status().message();
    instance_ = std::move(*inst);
  }
  static void TearDownTestSuite() {
    instance_.reset();
    weights_.reset();
  }
  void SetUp() override {
    // scripts/setup-deps installs flite: its absence is a broken set-up.
    ASSERT_TRUE(have_flite()) << "flite is not installed (scripts/setup-deps installs it)";
    ASSERT_TRUE(instance_);
  }

  static inline SttBackend backend_;
  static inline std::shared_ptr<const Weights> weights_;
  static inline std::unique_ptr<Instance> instance_;
};

TEST_F(SttTest, TranscribesAFliteSentenceExactly) {
  const std::string wav = flite_wav(kFox);
  Result<speech::Transcript> t = run(*instance_, transcription(wav));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->text, kFox);
  EXPECT_EQ(t->language, "en");
  EXPECT_NEAR(t->duration, pcm_of(wav).seconds(), 0.01);
  ASSERT_FALSE(t->segments.empty());
  std::string joined;
  for (const speech::TimedText& s : t->segments) joined += (joined.empty() ? "" : " ") + s.text;
  EXPECT_EQ(joined, kFox);
  EXPECT_TRUE(t->words.empty()) << "words only when asked";
}

TEST_F(SttTest, WordTimestampsAreOrderedAndWithinTheAudio) {
  speech::TranscribeOptions options;
  options.word_timestamps = true;
  Result<speech::Transcript> t = run(*instance_, transcription(flite_wav(kStation), options));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->text, kStation);
  std::string joined;
  double last_end = 0;
  for (const speech::TimedText& w : t->words) {
    joined += (joined.empty() ? "" : " ") + w.text;
    EXPECT_GE(w.start, last_end) << w.text;
    EXPECT_GT(w.end, w.start) << w.text;
    EXPECT_LE(w.end, t->duration + 0.011) << w.text;
    last_end = w.end;
  }
  EXPECT_EQ(joined, kStation);
}

TEST_F(SttTest, APauseStartsANewSegment) {
  // Two sentences as samples (the INT16 path) with a second of silence
  // between them.
  audio::Pcm first = pcm_of(flite_wav(kTurn));
  const audio::Pcm second = pcm_of(flite_wav(kStation));
  first.samples.insert(first.samples.end(), static_cast<std::size_t>(first.sample_rate), 0.0f);
  first.samples.insert(first.samples.end(), second.samples.begin(), second.samples.end());
  Result<speech::Transcript> t = run(*instance_, sample_request(first));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->text, std::string(kTurn) + " " + kStation);
  ASSERT_EQ(t->segments.size(), 2u);
  EXPECT_EQ(t->segments[0].text, kTurn);
  EXPECT_EQ(t->segments[1].text, kStation);
  EXPECT_GE(t->segments[1].start - t->segments[0].end, 0.3);
}

TEST_F(SttTest, EightKilohertzAudioIsResampled) {
  const audio::Pcm at16k = pcm_of(flite_wav(kFox));
  Result<audio::Pcm> at8k = audio::resample(at16k, 8000);
  ASSERT_TRUE(at8k.ok());
  Result<speech::Transcript> t = run(*instance_, sample_request(*at8k));
  ASSERT_TRUE(t.ok()) << t.status().message();
  // Narrowband speech loses words on this wideband model (the accuracy
  // probe, stt_measure accuracy, has the rates): only its start is sure.
  EXPECT_EQ(t->text.rfind("the quick brown fox", 0), 0u) << t->text;
  EXPECT_NEAR(t->duration, at8k->seconds(), 0.01);
}

TEST_F(SttTest, SilenceIsEmptyTextNotAnError) {
  audio::Pcm silence{16000, std::vector<float>(16000, 0.0f)};
  Result<speech::Transcript> t = run(*instance_, sample_request(silence));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->text, "");
  EXPECT_TRUE(t->segments.empty());
  EXPECT_NEAR(t->duration, 1.0, 1e-6);
}

TEST_F(SttTest, BadAudioIsTheCallersError) {
  Result<speech::Transcript> t = run(*instance_, transcription("<html>not audio</html>"));
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << t.status().message();
  EXPECT_TRUE(instance_->check().ok());
}

TEST_F(SttTest, AudioOverMaxSecondsIsRefused) {
  auto weights = backend_.load(stt_spec({{"max_seconds", "1"}, {"jsgf", write_file("d1.gram", kDigitsGrammar)}}), nullptr);
  ASSERT_TRUE(weights.ok()) << weights.status().message();
  auto inst = backend_.instantiate(*weights, stt_spec());
  ASSERT_TRUE(inst.ok());
  Result<speech::Transcript> t = run(**inst, transcription(flite_wav(kFox)));
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("limit"), std::string::npos) << t.status().message();
}

TEST_F(SttTest, FieldsTheEngineCannotHonourAreRefusedByName) {
  const std::string wav = flite_wav("hello");
  speech::TranscribeOptions prompt;
  prompt.prompt = "earlier words";
  Status s = run(*instance_, transcription(wav, prompt)).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'prompt'"), std::string::npos) << s.message();

  speech::TranscribeOptions hot;
  hot.temperature = 0.5;
  s = run(*instance_, transcription(wav, hot)).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'temperature' = 0.5"), std::string::npos) << s.message();

  speech::TranscribeOptions french;
  french.language = "fr";
  s = run(*instance_, transcription(wav, french)).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'language' = 'fr'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'en'"), std::string::npos) << s.message();

  speech::TranscribeOptions all = prompt;
  all.temperature = 1;
  all.language = "de";
  s = run(*instance_, transcription(wav, all)).status();
  for (const char* name : {"'prompt'", "'temperature'", "'language'"}) {
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  }

  // What it can honour passes: its own language (any region), temperature 0.
  speech::TranscribeOptions fine;
  fine.language = "en-US";
  EXPECT_TRUE(run(*instance_, transcription(wav, fine)).ok());
}

TEST_F(SttTest, AStopEndsTheRunPromptlyAndTheInstanceServesOn) {
  audio::Pcm longer = pcm_of(flite_wav(kStation));
  const std::vector<float> once = longer.samples;
  for (int i = 0; i < 9; ++i) longer.samples.insert(longer.samples.end(), once.begin(), once.end());  // ~45 s
  const Request request = sample_request(longer);

  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_EQ(run(*instance_, request, stopped.get_token()).status().code(), StatusCode::kCancelled);

  std::stop_source source;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(100ms);
    source.request_stop();
  });
  EXPECT_EQ(run(*instance_, request, source.get_token()).status().code(), StatusCode::kCancelled);

  Result<speech::Transcript> t = run(*instance_, transcription(flite_wav(kFox)));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->text, kFox);
}

TEST_F(SttTest, TheSharedMappingAndADecodersOwnBytesAreReported) {
  // mdef + sendump of the en-us model (~4.7 MiB), mapped once.
  EXPECT_GT(weights_->bytes(), std::size_t{1} << 20);
  // A decoder's own heap: tens of MiB with the language model.
  EXPECT_GT(instance_->bytes(), std::size_t{10} << 20);
}

TEST_F(SttTest, WarmupDecodesAndLeavesTheInstanceReady) {
  EXPECT_TRUE(instance_->warmup().ok());
  Result<speech::Transcript> t = run(*instance_, transcription(flite_wav(kFox)));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->text, kFox);
}

TEST_F(SttTest, ADigitsGrammarTranscribesSpokenDigitsExactly) {
  const ModelSpec spec = stt_spec({{"jsgf", write_file("digits.gram", kDigitsGrammar)}});
  auto weights = backend_.load(spec, nullptr);
  ASSERT_TRUE(weights.ok()) << weights.status().message();
  auto inst = backend_.instantiate(*weights, spec);
  ASSERT_TRUE(inst.ok()) << inst.status().message();
  for (const char* digits : {"one two three four five", "nine eight seven six", "zero four two"}) {
    Result<speech::Transcript> t = run(**inst, transcription(flite_wav(digits)));
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->text, digits);
  }
}

TEST_F(SttTest, AKeywordListSpotsItsPhrases) {
  const ModelSpec spec = stt_spec({{"keywords", write_file("keys.txt", "next intersection /1e-20/\n").string()}});
  auto weights = backend_.load(spec, nullptr);
  ASSERT_TRUE(weights.ok()) << weights.status().message();
  auto inst = backend_.instantiate(*weights, spec);
  ASSERT_TRUE(inst.ok()) << inst.status().message();
  Result<speech::Transcript> t = run(**inst, transcription(flite_wav(kTurn)));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_NE(t->text.find("next intersection"), std::string::npos) << t->text;
}

TEST_F(SttTest, InstancesTranscribeConcurrently) {
  Registry registry(RegistryOptions{}, default_catalog());
  auto backend = default_catalog().find("stt");
  ASSERT_TRUE(backend.ok()) << backend.status().message();
  ServeOptions serve;
  serve.min_instances = serve.max_instances = 4;
  auto model = open_pooled_model(**backend, registry, stt_spec(), serve);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_TRUE(has((*model)->capabilities(), Capability::kTranscribe));
  const std::string sentences[] = {kFox, kStation, kTurn};
  std::string wavs[3];
  for (int i = 0; i < 3; ++i) wavs[i] = flite_wav(sentences[i]);

  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::jthread> threads;
  for (int thread = 0; thread < 4; ++thread) {
    threads.emplace_back([&, thread] {
      for (int i = 0; i < 3; ++i) {
        const int which = (thread + i) % 3;
        CollectSink sink;
        Result<InferStats> r = (*model)->infer(transcription(wavs[which]), sink, Clock::now() + 60s, {});
        if (!r.ok()) {
          ++failed;
          ADD_FAILURE() << r.status().message();
          continue;
        }
        Result<speech::Transcript> t = speech::read_transcript(sink.outputs);
        if (!t.ok() || t->text != sentences[which]) {
          ++wrong;
          ADD_FAILURE() << "thread " << thread << ": '" << (t.ok() ? t->text : t.status().message())
                        << "' for '" << sentences[which] << "'";
        }
      }
    });
  }
  threads.clear();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(failed, 0);
  EXPECT_GT((*model)->stats().weights_bytes, std::size_t{1} << 20);
  EXPECT_TRUE((*model)->shutdown(10s).ok());
}

TEST(SttOptions, TheSchemaIsValidAndTheBackendIsInTheCatalog) {
  auto backend = default_catalog().find("stt");
  ASSERT_TRUE(backend.ok()) << backend.status().message();
  const BackendInfo& info = (*backend)->info();
  EXPECT_TRUE(check_schema(info.options).ok()) << check_schema(info.options).message();
  EXPECT_TRUE(has(info.capabilities, Capability::kTranscribe));
  EXPECT_TRUE(has(info.capabilities, Capability::kInfer));
  EXPECT_FALSE(info.needs_path);
}

TEST(SttOptions, TwoSearchesAreRefusedNamingBoth) {
  SttBackend backend;
  const std::string grammar = write_file("g.gram", kDigitsGrammar).string();
  Status s = backend.check(stt_spec({{"lm", "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"}, {"jsgf", grammar}}), {});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'lm' and 'jsgf'"), std::string::npos) << s.message();
  s = backend.load(stt_spec({{"jsgf", grammar}, {"keywords", grammar}}), nullptr).status();
  EXPECT_NE(s.message().find("'jsgf' and 'keywords'"), std::string::npos) << s.message();
}

TEST(SttOptions, AMissingFileIsNamedWithItsPath) {
  SttBackend backend;
  Status s = backend.check(stt_spec({{"jsgf", "/nonexistent/digits.gram"}}), {});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'jsgf'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("/nonexistent/digits.gram"), std::string::npos) << s.message();
  s = backend.load(stt_spec({{"dict", "/nonexistent/words.dict"}}), nullptr).status();
  EXPECT_NE(s.message().find("/nonexistent/words.dict"), std::string::npos) << s.message();
  s = backend.load(stt_spec({{"model_dir", "/nonexistent/am"}}), nullptr).status();
  EXPECT_NE(s.message().find("/nonexistent/am"), std::string::npos) << s.message();
  s = backend.check(stt_spec({{"lm_file", "x"}}), {});
  EXPECT_NE(s.message().find("unknown option 'lm_file'"), std::string::npos) << s.message();
}

TEST(SttOptions, AGrammarPocketsphinxRefusesFailsAtLoadWithItsReason) {
  SttBackend backend;
  const std::string bad = write_file("bad.gram", "#JSGF V1.0;\ngrammar bad;\npublic <x> = ( one | ;\n").string();
  Status s = backend.load(stt_spec({{"jsgf", bad}}), nullptr).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(bad), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("syntax error at line 3"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace modelpool::stt
