// Encoding (audio.h): libsndfile's writers into memory.
#include <sndfile.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>

#include "audio/audio.h"
#include "audio/memory_file.h"

namespace modelpool::audio {
namespace {

struct Target {
  int format;                       // SF_FORMAT_* major | subtype
  std::array<int, 9> rates;         // rates the codec takes (0: any)
};

Result<Target> target_of(std::string_view format) {
  if (format == "wav") return Target{SF_FORMAT_WAV | SF_FORMAT_PCM_16, {}};
  if (format == "flac") return Target{SF_FORMAT_FLAC | SF_FORMAT_PCM_16, {}};
  if (format == "mp3") {
    return Target{SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III,
                  {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}};
  }
  if (format == "opus") return Target{SF_FORMAT_OGG | SF_FORMAT_OPUS, {8000, 12000, 16000, 24000, 48000}};
  return invalid_argument_error("cannot encode '" + std::string(format) + "'; supported: wav, pcm, mp3, opus, flac");
}

// The lowest rate the codec takes that keeps everything in `rate`, else its
// highest.
int codec_rate(const Target& t, int rate) {
  if (t.rates[0] == 0) return rate;
  int best = 0;
  for (int r : t.rates) {
    if (r == rate) return rate;
    if (r > rate && (best == 0 || r < best)) best = r;
  }
  return best != 0 ? best : *std::max_element(t.rates.begin(), t.rates.end());
}

}  // namespace

Result<std::string> encode(const Pcm& pcm, std::string_view format) {
  if (pcm.sample_rate <= 0) return invalid_argument_error("cannot encode audio without a sample rate");
  if (format == "pcm") {
    const std::vector<std::int16_t> s = to_int16(pcm);
    std::string out(s.size() * 2, '\0');
    std::memcpy(out.data(), s.data(), out.size());  // x86 and ARM: little-endian already
    return out;
  }
  Result<Target> target = target_of(format);
  if (!target.ok()) return target.status();
  const int rate = codec_rate(*target, pcm.sample_rate);
  Pcm resampled;
  const Pcm* source = &pcm;
  if (rate != pcm.sample_rate) {
    Result<Pcm> r = resample(pcm, rate);
    if (!r.ok()) return r.status();
    resampled = std::move(*r);
    source = &resampled;
  }

  std::string out;
  {
    MemoryFile file(&out);
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 1;
    info.format = target->format;
    std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> sf(file.open(SFM_WRITE, &info), &sf_close);
    if (!sf) return internal_error("cannot start the " + std::string(format) + " encoder: " + sf_strerror(nullptr));
    const auto frames = static_cast<sf_count_t>(source->samples.size());
    if (sf_writef_float(sf.get(), source->samples.data(), frames) != frames) {
      return internal_error("the " + std::string(format) + " encoder failed: " + sf_strerror(sf.get()));
    }
    // Closing flushes the encoder and finishes the headers into `out`.
  }
  return out;
}

}  // namespace modelpool::audio
