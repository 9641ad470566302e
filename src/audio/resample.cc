// Resampling and sample conversion (audio.h).
#include <samplerate.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "audio/audio.h"

namespace modelpool::audio {

Result<Pcm> resample(const Pcm& pcm, int rate) {
  if (rate <= 0 || pcm.sample_rate <= 0) return invalid_argument_error("resample: rates must be positive");
  if (rate == pcm.sample_rate || pcm.samples.empty()) return Pcm{rate, pcm.samples};
  const double ratio = static_cast<double>(rate) / pcm.sample_rate;
  Pcm out{rate, std::vector<float>(static_cast<std::size_t>(std::ceil(pcm.samples.size() * ratio)) + 16)};
  SRC_DATA data{};
  data.data_in = pcm.samples.data();
  data.input_frames = static_cast<long>(pcm.samples.size());
  data.data_out = out.samples.data();
  data.output_frames = static_cast<long>(out.samples.size());
  data.src_ratio = ratio;
  // Medium sinc: the band-limited quality a recogniser needs from 44.1 or
  // 48 kHz input, at a fraction of the best converter's cost.
  if (int err = src_simple(&data, SRC_SINC_MEDIUM_QUALITY, 1); err != 0) {
    return internal_error(std::string("resampling failed: ") + src_strerror(err));
  }
  out.samples.resize(static_cast<std::size_t>(data.output_frames_gen));
  return out;
}

std::vector<std::int16_t> to_int16(const Pcm& pcm) {
  std::vector<std::int16_t> out(pcm.samples.size());
  std::transform(pcm.samples.begin(), pcm.samples.end(), out.begin(), [](float s) {
    const float clipped = std::clamp(s, -1.0f, 1.0f);
    return static_cast<std::int16_t>(std::lround(clipped * 32767.0f));
  });
  return out;
}

}  // namespace modelpool::audio
