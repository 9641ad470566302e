// flite through FliteEngine: the samples themselves, and several threads
// synthesizing at once (the evidence that the tts backend may serve flite
// in threads).
#include "backends/tts/flite_engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <thread>
#include <tuple>

namespace modelpool::tts {
namespace {

// The loudness of each 20 ms of `samples`, in dB.
std::vector<double> envelope(const std::vector<float>& samples, int rate) {
  const std::size_t frame = static_cast<std::size_t>(rate / 50);
  std::vector<double> db;
  for (std::size_t i = 0; i + frame <= samples.size(); i += frame) {
    double sum = 0;
    for (std::size_t j = i; j < i + frame; ++j) sum += static_cast<double>(samples[j]) * samples[j];
    db.push_back(10 * std::log10(sum / static_cast<double>(frame) + 1e-10));
  }
  return db;
}

// The largest difference in loudness between `a` and `b`, over the 20 ms
// frames where either is louder than -50 dB (speech, not silence).
double envelope_distance(const std::vector<float>& a, const std::vector<float>& b, int rate) {
  const std::vector<double> ea = envelope(a, rate), eb = envelope(b, rate);
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < std::min(ea.size(), eb.size()); ++i) {
    if (std::max(ea[i], eb[i]) > -30) {
      sum += std::abs(ea[i] - eb[i]);
      ++n;
    }
  }
  return n == 0 ? 0 : sum / static_cast<double>(n);
}

double rms(const audio::Pcm& pcm) {
  double sum = 0;
  for (float s : pcm.samples) sum += static_cast<double>(s) * s;
  return pcm.samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(pcm.samples.size()));
}

audio::Pcm say(std::string_view text, std::string_view voice, double speed = 1.0) {
  FliteEngine engine;
  Result<audio::Pcm> pcm = engine.synthesize(text, voice, speed, {});
  EXPECT_TRUE(pcm.ok()) << pcm.status().message();
  return pcm.ok() ? std::move(*pcm) : audio::Pcm{};
}

constexpr const char* kFox = "The quick brown fox jumps over the lazy dog.";

TEST(TtsFlite, SaysASentenceAsNonSilentAudioOfPlausibleLength) {
  const audio::Pcm pcm = say(kFox, "slt");
  EXPECT_EQ(pcm.sample_rate, 16000);
  // Nine words at a conversational 2 to 4 words a second.
  EXPECT_GT(pcm.seconds(), 1.5);
  EXPECT_LT(pcm.seconds(), 6.0);
  EXPECT_GT(rms(pcm), 0.01);
  float peak = 0;
  for (float s : pcm.samples) peak = std::max(peak, std::abs(s));
  EXPECT_GT(peak, 0.1f);
  EXPECT_LE(peak, 1.0f);
}

TEST(TtsFlite, EveryVoiceSpeaksAtItsOwnRate) {
  const std::map<std::string, int> rates = {{"kal", 8000}, {"kal16", 16000}, {"slt", 16000}, {"rms", 16000}, {"awb", 16000}};
  ASSERT_EQ(FliteEngine::voices().size(), rates.size());
  for (const std::string& voice : FliteEngine::voices()) {
    const audio::Pcm pcm = say("Hello there.", voice);
    EXPECT_EQ(pcm.sample_rate, rates.at(voice)) << voice;
    EXPECT_GT(pcm.seconds(), 0.3) << voice;
    EXPECT_GT(rms(pcm), 0.01) << voice;
  }
}

TEST(TtsFlite, AnotherVoiceSaysItDifferently) {
  const audio::Pcm slt = say(kFox, "slt");
  const audio::Pcm rms_voice = say(kFox, "rms");
  EXPECT_NE(slt.samples, rms_voice.samples);
}

TEST(TtsFlite, SpeedChangesThePaceAndNothingElse) {
  const audio::Pcm normal = say(kFox, "slt", 1.0);
  const audio::Pcm fast = say(kFox, "slt", 2.0);
  const audio::Pcm slow = say(kFox, "slt", 0.5);
  EXPECT_LT(fast.seconds(), 0.7 * normal.seconds());
  EXPECT_GT(slow.seconds(), 1.4 * normal.seconds());
  // The speed went into that request's utterance only: the voice's own
  // pace is unchanged for the next one.
  EXPECT_EQ(say(kFox, "slt", 1.0).samples.size(), normal.samples.size());
}

TEST(TtsFlite, AnUnknownVoiceIsNamedWithTheKnownOnes) {
  FliteEngine engine;
  Status s = engine.check_voice("alloy");
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'alloy'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("kal, kal16, slt, rms, awb"), std::string::npos) << s.message();
  EXPECT_EQ(engine.synthesize("Hi.", "alloy", 1.0, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(TtsFlite, AStopRequestedBeforehandCancels) {
  std::stop_source stop;
  stop.request_stop();
  FliteEngine engine;
  EXPECT_EQ(engine.synthesize(kFox, "slt", 1.0, stop.get_token()).status().code(), StatusCode::kCancelled);
}

// Whether `got` is what `want` (a serial run of the same request) said.
// The diphone voices (kal, kal16) are deterministic: the very same samples.
// The clustergen voices (slt, rms, awb) draw their excitation noise from
// libc's rand(), whose state the whole process shares, so two serial runs
// already differ sample by sample; everything before the vocoder is
// deterministic, though: the same length to the sample (every duration
// from the front end and the models), and the same loudness contour, 20 ms
// by 20 ms, within 1.5 dB on average over the speech (two serial runs
// differ by 0.2 to 0.4 dB; another sentence by ~10 dB).
std::string compare(const std::string& voice, const std::vector<float>& got, const std::vector<float>& want,
                    int rate) {
  if (got.size() != want.size()) {
    return std::to_string(got.size()) + " samples, the serial run " + std::to_string(want.size());
  }
  if (voice == "kal" || voice == "kal16") return got == want ? "" : "other samples than the serial run's";
  const double d = envelope_distance(got, want, rate);
  return d < 1.5 ? "" : "loudness contour " + std::to_string(d) + " dB away from the serial run's";
}

// Eight threads synthesize different sentences, voices and speeds over and
// over, all at once, from one process's shared voices; each result must be
// what a serial run of the same request gave (compare() above). A shared
// voice written during synthesis, or a global scratch buffer, would show as
// a difference (or a crash).
TEST(TtsFliteConcurrency, ThreadsSynthesizeWhatASerialRunDoes) {
  const std::vector<std::string> texts = {
      "The quick brown fox jumps over the lazy dog.",
      "She sells sea shells by the sea shore, on the third of May 2024.",
      "Peter Piper picked a peck of pickled peppers at 10:45 a.m.",
      "How much wood would a woodchuck chuck if a woodchuck could chuck wood?",
      "Dr. Smith paid $3.50 for 12 apples on Main St.",
      "Colorless green ideas sleep furiously.",
      "A journey of a thousand miles begins with a single step.",
      "Numbers like 1,234,567 and words like antidisestablishmentarianism.",
  };
  const std::vector<std::string> voices = {"slt", "kal16", "rms", "awb", "kal"};
  const std::vector<double> speeds = {1.0, 1.5, 0.8};
  using Key = std::tuple<std::size_t, std::size_t, std::size_t>;
  auto key_of = [&](std::size_t thread, int round) {
    const std::size_t r = static_cast<std::size_t>(round);
    return Key{(thread + r) % texts.size(), (thread + 2 * r) % voices.size(), (thread + r) % speeds.size()};
  };
  constexpr std::size_t kThreads = 8;
  constexpr int kRounds = 3;

  std::map<Key, audio::Pcm> serial;
  for (std::size_t t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRounds; ++r) {
      const Key k = key_of(t, r);
      if (serial.count(k) != 0) continue;
      serial[k] = say(texts[std::get<0>(k)], voices[std::get<1>(k)], speeds[std::get<2>(k)]);
      ASSERT_FALSE(serial[k].samples.empty());
    }
  }

  std::vector<std::vector<std::string>> failures(kThreads);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      FliteEngine engine;  // one per thread, as the Pool's instances are
      for (int r = 0; r < kRounds; ++r) {
        const Key k = key_of(t, r);
        Result<audio::Pcm> pcm =
            engine.synthesize(texts[std::get<0>(k)], voices[std::get<1>(k)], speeds[std::get<2>(k)], {});
        if (!pcm.ok()) {
          failures[t].push_back(pcm.status().message());
        } else if (std::string diff = compare(voices[std::get<1>(k)], pcm->samples, serial.at(k).samples,
                                              pcm->sample_rate);
                   !diff.empty()) {
          failures[t].push_back("thread " + std::to_string(t) + " round " + std::to_string(r) + " (" +
                                voices[std::get<1>(k)] + "): " + diff);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& f : failures) {
    for (const std::string& m : f) ADD_FAILURE() << m;
  }
}

}  // namespace
}  // namespace modelpool::tts
