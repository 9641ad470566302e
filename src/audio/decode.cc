// Decoding (audio.h): any container libsndfile reads, from memory, to mono.
#include <sndfile.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "audio/audio.h"
#include "audio/memory_file.h"
#include "audio/precheck.h"

namespace modelpool::audio {
namespace {

struct CloseFile {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

// The first bytes, as hex and as text, for "not audio" messages.
std::string describe_start(std::string_view bytes) {
  const std::string_view head = bytes.substr(0, 8);
  std::string hex;
  std::string text;
  for (char c : head) {
    char b[4];
    std::snprintf(b, sizeof b, "%s%02X", hex.empty() ? "" : " ", static_cast<unsigned char>(c));
    hex += b;
    text += std::isprint(static_cast<unsigned char>(c)) ? c : '.';
  }
  return hex + " ('" + text + "')";
}

bool is_mpeg_frame(std::string_view b) {
  // Frame sync (11 set bits), a layer that is not "reserved".
  return b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0xFF &&
         (static_cast<unsigned char>(b[1]) & 0xE0) == 0xE0 && (static_cast<unsigned char>(b[1]) & 0x06) != 0;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Status check_limits(int rate, int channels, double seconds, const DecodeLimits& limits) {
  if (rate < limits.min_rate || rate > limits.max_rate) {
    return invalid_argument_error("sample rate " + std::to_string(rate) + " Hz cannot be used; supported: " +
                                  std::to_string(limits.min_rate) + " to " + std::to_string(limits.max_rate) + " Hz");
  }
  if (channels < 1 || channels > limits.max_channels) {
    return invalid_argument_error(std::to_string(channels) + " channels cannot be used; supported: 1 to " +
                                  std::to_string(limits.max_channels));
  }
  if (seconds > limits.max_seconds) {
    char b[128];
    std::snprintf(b, sizeof b, "audio is %.1f s long; the limit is %g s", seconds, limits.max_seconds);
    return invalid_argument_error(b);
  }
  return {};
}

}  // namespace

std::string_view sniff_container(std::string_view b) {
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WAVE") return "wav";
  if (b.size() >= 12 && b.substr(0, 4) == "RF64" && b.substr(8, 4) == "WAVE") return "wav";
  if (b.size() >= 4 && b.substr(0, 4) == "fLaC") return "flac";
  if (b.size() >= 4 && b.substr(0, 4) == "OggS") return "ogg";
  if (b.size() >= 12 && b.substr(0, 4) == "FORM" && (b.substr(8, 4) == "AIFF" || b.substr(8, 4) == "AIFC")) {
    return "aiff";
  }
  if (b.size() >= 3 && b.substr(0, 3) == "ID3") return "mp3";
  if (is_mpeg_frame(b)) return "mp3";
  return {};
}

Result<Pcm> decode(std::string_view bytes, const DecodeLimits& limits) {
  if (bytes.empty()) return invalid_argument_error("the audio is empty (0 bytes)");
  const std::string_view container = sniff_container(bytes);
  if (container.empty()) {
    // A WAV header cut before its format tag still says RIFF.
    if (bytes.substr(0, 4) == "RIFF" || bytes.substr(0, 4) == "fLaC" || bytes.substr(0, 4) == "OggS") {
      return invalid_argument_error("truncated audio header: " + std::to_string(bytes.size()) + " bytes");
    }
    return invalid_argument_error("not audio: the bytes start with " + describe_start(bytes) +
                                  "; expected WAV, FLAC, OGG (Vorbis or Opus), MP3 or AIFF");
  }
  std::string storage;
  Result<std::string_view> prepared = prepare_for_libsndfile(bytes, container, &storage);
  if (!prepared.ok()) return prepared.status();
  MemoryFile file(*prepared);
  SF_INFO info{};
  std::unique_ptr<SNDFILE, CloseFile> sf(file.open(SFM_READ, &info));
  if (!sf) {
    return invalid_argument_error("unreadable " + upper(container) + " (truncated or corrupt header): " +
                                  sf_strerror(nullptr));
  }
  const double seconds = info.samplerate > 0 ? static_cast<double>(info.frames) / info.samplerate : 0;
  if (Status s = check_limits(info.samplerate, info.channels, seconds, limits); !s.ok()) return s;

  // Frames may be unknown or estimated (MP3): read in blocks, checking the
  // length limit as samples arrive.
  const auto channels = static_cast<std::size_t>(info.channels);
  const auto max_frames = static_cast<std::size_t>(limits.max_seconds * info.samplerate) + 1;
  Pcm pcm{info.samplerate, {}};
  if (info.frames > 0) pcm.samples.reserve(static_cast<std::size_t>(info.frames));
  std::vector<float> block(4096 * channels);
  for (;;) {
    const sf_count_t n = sf_readf_float(sf.get(), block.data(), 4096);
    if (n <= 0) break;
    for (sf_count_t i = 0; i < n; ++i) {
      float sum = 0;
      for (std::size_t c = 0; c < channels; ++c) sum += block[static_cast<std::size_t>(i) * channels + c];
      pcm.samples.push_back(sum / static_cast<float>(channels));
    }
    if (pcm.samples.size() > max_frames) {
      return check_limits(info.samplerate, info.channels, pcm.seconds(), limits);
    }
  }
  if (sf_error(sf.get()) != SF_ERR_NO_ERROR) {
    return invalid_argument_error("corrupt " + upper(container) + " data: " + sf_strerror(sf.get()));
  }
  if (pcm.samples.empty()) return invalid_argument_error("the " + upper(container) + " file holds no samples");
  return pcm;
}

Result<Pcm> from_samples(std::string_view type, std::string_view bytes, int sample_rate, const DecodeLimits& limits) {
  std::size_t width = 0;
  if (type == "INT16") width = 2;
  if (type == "FP32") width = 4;
  if (width == 0) return invalid_argument_error("samples of type " + std::string(type) + " cannot be used; use INT16 or FP32");
  if (bytes.empty()) return invalid_argument_error("the audio is empty (0 samples)");
  if (bytes.size() % width != 0) {
    return invalid_argument_error(std::to_string(bytes.size()) + " bytes are not a whole number of " +
                                  std::string(type) + " samples");
  }
  const std::size_t n = bytes.size() / width;
  const double seconds = sample_rate > 0 ? static_cast<double>(n) / sample_rate : 0;
  if (Status s = check_limits(sample_rate, 1, seconds, limits); !s.ok()) return s;
  Pcm pcm{sample_rate, std::vector<float>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    if (width == 2) {
      std::int16_t v = 0;
      std::memcpy(&v, bytes.data() + 2 * i, 2);
      pcm.samples[i] = static_cast<float>(v) / 32768.0f;
    } else {
      float v = 0;
      std::memcpy(&v, bytes.data() + 4 * i, 4);
      if (!std::isfinite(v)) return invalid_argument_error("sample " + std::to_string(i) + " is not a finite number");
      pcm.samples[i] = v;
    }
  }
  return pcm;
}

}  // namespace modelpool::audio
