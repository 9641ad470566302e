#include "audio/audio.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <string>

#include "audio/memory_file.h"

namespace modelpool::audio {
namespace {

// One second of a 440 Hz tone at `rate`.
Pcm tone(int rate, double seconds = 1.0) {
  Pcm p{rate, std::vector<float>(static_cast<std::size_t>(rate * seconds))};
  for (std::size_t i = 0; i < p.samples.size(); ++i) {
    p.samples[i] = 0.5f * static_cast<float>(std::sin(2 * M_PI * 440.0 * static_cast<double>(i) / rate));
  }
  return p;
}

// A WAV file written straight with libsndfile, for shapes encode() never
// makes (several channels, unusual rates).
std::string raw_wav(int rate, int channels, std::size_t frames) {
  std::string out;
  MemoryFile file(&out);
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* sf = file.open(SFM_WRITE, &info);
  EXPECT_NE(sf, nullptr) << sf_strerror(nullptr);
  std::vector<float> data(frames * static_cast<std::size_t>(channels), 0.25f);
  sf_writef_float(sf, data.data(), static_cast<sf_count_t>(frames));
  sf_close(sf);
  return out;
}

double rms(const std::vector<float>& s) {
  double sum = 0;
  for (float v : s) sum += static_cast<double>(v) * v;
  return s.empty() ? 0 : std::sqrt(sum / static_cast<double>(s.size()));
}

TEST(Audio, EveryFormatRoundTripsThroughDecode) {
  const Pcm in = tone(16000);
  for (std::string_view format : {"wav", "flac", "mp3", "opus"}) {
    SCOPED_TRACE(format);
    Result<std::string> file = encode(in, format);
    ASSERT_TRUE(file.ok()) << file.status().message();
    Result<Pcm> out = decode(*file, {});
    ASSERT_TRUE(out.ok()) << out.status().message();
    // Lossy codecs add padding and delay: the length is close, the level kept.
    EXPECT_NEAR(out->seconds(), 1.0, 0.1);
    EXPECT_NEAR(rms(out->samples), rms(in.samples), 0.05);
  }
}

TEST(Audio, ContainersAreRecognisedFromTheirBytes) {
  const Pcm in = tone(16000, 0.2);
  EXPECT_EQ(sniff_container(*encode(in, "wav")), "wav");
  EXPECT_EQ(sniff_container(*encode(in, "flac")), "flac");
  EXPECT_EQ(sniff_container(*encode(in, "opus")), "ogg");
  EXPECT_EQ(sniff_container(*encode(in, "mp3")), "mp3");
  EXPECT_EQ(sniff_container("<html><body>"), "");
  const std::string opus = *encode(in, "opus");
  EXPECT_NE(opus.find("OpusHead"), std::string::npos);
}

TEST(Audio, OpusAndMp3TakeRatesTheirCodecsAccept) {
  // espeak-ng speaks at 22050 Hz: Opus cannot, so it is resampled.
  Result<std::string> opus = encode(tone(22050, 0.3), "opus");
  ASSERT_TRUE(opus.ok()) << opus.status().message();
  EXPECT_EQ(decode(*opus, {})->sample_rate, 24000);
  Result<std::string> mp3 = encode(tone(22050, 0.3), "mp3");
  ASSERT_TRUE(mp3.ok()) << mp3.status().message();
  EXPECT_EQ(decode(*mp3, {})->sample_rate, 22050);
}

TEST(Audio, RawPcmIsLittleEndianInt16) {
  Pcm in{8000, {0.0f, 0.5f, -1.0f, 2.0f}};
  Result<std::string> raw = encode(in, "pcm");
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw->size(), 8u);
  Result<Pcm> back = from_samples("INT16", *raw, 8000, {});
  ASSERT_TRUE(back.ok());
  EXPECT_NEAR(back->samples[1], 0.5f, 1e-3);
  EXPECT_NEAR(back->samples[2], -1.0f, 1e-3);
  EXPECT_NEAR(back->samples[3], 1.0f, 1e-3);  // clipped
}

TEST(Audio, ChannelsAreMixedToMono) {
  Result<Pcm> p = decode(raw_wav(8000, 2, 800), {});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->samples.size(), 800u);
  EXPECT_NEAR(p->samples[10], 0.25f, 1e-3);
}

TEST(Audio, BadAudioIsNamed) {
  auto message = [](std::string_view bytes, DecodeLimits limits = {}) {
    Result<Pcm> r = decode(bytes, limits);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(message(""), "the audio is empty (0 bytes)");
  EXPECT_NE(message("<html><body>hi</body></html>").find("not audio: the bytes start with 3C 68 74 6D"), std::string::npos);
  const std::string wav = raw_wav(16000, 1, 16000);
  EXPECT_NE(message(wav.substr(0, 6)).find("truncated audio header"), std::string::npos);
  EXPECT_NE(message(wav.substr(0, 30)).find("unreadable WAV"), std::string::npos);
  EXPECT_NE(message(raw_wav(2000, 1, 100)).find("sample rate 2000 Hz cannot be used"), std::string::npos);
  EXPECT_NE(message(raw_wav(8000, 12, 100)).find("12 channels cannot be used"), std::string::npos);
  EXPECT_NE(message(wav, {.max_seconds = 0.5}).find("audio is 1.0 s long; the limit is 0.5 s"), std::string::npos);
}

TEST(Audio, MpegLengthIsCheckedWhileDecoding) {
  Result<std::string> mp3 = encode(tone(16000, 2.0), "mp3");
  ASSERT_TRUE(mp3.ok());
  Result<Pcm> r = decode(*mp3, {.max_seconds = 1.0});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the limit is 1 s"), std::string::npos) << r.status().message();
}

TEST(Audio, SamplesFromTensorsAreChecked) {
  EXPECT_FALSE(from_samples("INT16", std::string(3, '\0'), 16000, {}).ok());
  EXPECT_FALSE(from_samples("INT8", std::string(4, '\0'), 16000, {}).ok());
  EXPECT_FALSE(from_samples("FP32", "", 16000, {}).ok());
  EXPECT_NE(from_samples("FP32", std::string(8, '\0'), 1000, {}).status().message().find("sample rate 1000 Hz"),
            std::string::npos);
  const float nan = std::nanf("");
  EXPECT_FALSE(from_samples("FP32", std::string(reinterpret_cast<const char*>(&nan), 4), 16000, {}).ok());
}

TEST(Audio, ResamplingKeepsDurationAndLevel) {
  Result<Pcm> down = resample(tone(44100), 16000);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->sample_rate, 16000);
  EXPECT_NEAR(static_cast<double>(down->samples.size()), 16000, 20);
  EXPECT_NEAR(rms(down->samples), 0.5 / std::sqrt(2.0), 0.02);
}

TEST(Audio, UnknownEncodingIsNamed) {
  Result<std::string> r = encode(tone(8000, 0.1), "aac");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot encode 'aac'; supported: wav, pcm, mp3, opus, flac");
}

}  // namespace
}  // namespace modelpool::audio
