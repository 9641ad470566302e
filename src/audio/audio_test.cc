#include "audio/audio.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
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
std::string raw_wav(int rate, int channels, std::size_t frames, int format = SF_FORMAT_WAV | SF_FORMAT_PCM_16) {
  std::string out;
  MemoryFile file(&out);
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
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
  EXPECT_EQ(encoded_rate(22050, "opus"), 24000);
  EXPECT_EQ(encoded_rate(16000, "opus"), 16000);
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

// Found by fuzzing (fuzz/crashes/audio/): libsndfile leaks libvorbis's
// header state when a Vorbis stream's headers are corrupt, so decode()
// refuses such a stream before libsndfile opens it (precheck.h). The
// leak itself shows in the ASan build (make asan) and under the fuzzer.
TEST(Audio, CorruptVorbisHeadersAreRefusedBeforeLibsndfileSeesThem) {
  const std::string ogg = raw_wav(16000, 1, 16000, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  Result<Pcm> whole = decode(ogg, {});
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_NEAR(whole->seconds(), 1.0, 0.05);

  // The first page holds the identification header alone (27 bytes of page
  // header, its segment table, then the packet): cut after it, the comment
  // and setup headers are missing.
  ASSERT_GT(ogg.size(), 27u);
  const auto segments = static_cast<unsigned char>(ogg[26]);
  std::size_t first_page = 27 + segments;
  for (std::size_t i = 0; i < segments; ++i) first_page += static_cast<unsigned char>(ogg[27 + i]);
  Result<Pcm> cut = decode(ogg.substr(0, first_page + 10), {});
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().message(), "corrupt OGG Vorbis header: the file ends before its three headers");

  // The reproducer the fuzzer found.
  std::ifstream in(std::string(MODELPOOL_SOURCE_DIR) +
                   "/fuzz/crashes/audio/leak-68fd906502b65a65b81cccc9e5d2655efee1b93b", std::ios::binary);
  const std::string found((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(found.empty());
  Result<Pcm> r = decode(found, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("corrupt OGG Vorbis header"), std::string::npos) << r.status().message();
}

// Found by fuzzing (fuzz/crashes/audio/): libsndfile walks a LIST chunk's
// sub-chunks by their declared sizes, past the end of the file: a 127-byte
// WAV claiming a 4 GiB LIST, or a LIST holding a 4 GiB sub-chunk, took
// minutes. decode() hands libsndfile only the chunks that carry audio
// (precheck.h).
TEST(Audio, WavMetadataNeverReachesLibsndfile) {
  const std::string wav = raw_wav(16000, 1, 1600);
  // A LIST chunk before the audio, as many writers put one.
  auto with_list = [&](std::uint32_t declared, std::string_view body) {
    std::string chunk = "LIST";
    for (int i = 0; i < 4; ++i) chunk += static_cast<char>((declared >> (8 * i)) & 0xFF);
    return wav.substr(0, 12) + chunk + std::string(body) + wav.substr(12);
  };
  Result<Pcm> ok = decode(with_list(12, std::string_view("INFOISFT\0\0\0\0", 12)), {});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->samples.size(), 1600u);

  const auto start = std::chrono::steady_clock::now();
  Result<Pcm> bad = decode(with_list(0xFFFFFF66, "INFO"), {});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unreadable WAV"), std::string::npos) << bad.status().message();

  // A LIST within the file whose sub-chunk claims 4 GiB: dropped, so the
  // audio after it decodes.
  std::string sub = "INFOISFT";
  sub += std::string("\xF0\xFF\xFF\xFF", 4) + "lavf";
  Result<Pcm> dropped = decode(with_list(static_cast<std::uint32_t>(sub.size()), sub), {});
  ASSERT_TRUE(dropped.ok()) << dropped.status().message();
  EXPECT_EQ(dropped->samples.size(), 1600u);

  for (std::string_view name : {"timeout-0be39422f3f30c8ae067d6abf9da7b827adb7c1d",
                                "timeout-54799a00ecc388460309edfe1de1e9da2c9f5f12"}) {
    std::ifstream in(std::string(MODELPOOL_SOURCE_DIR) + "/fuzz/crashes/audio/" + std::string(name), std::ios::binary);
    const std::string found((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(found.empty()) << name;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(decode(found, {}).ok()) << name;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1)) << name;
  }
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
