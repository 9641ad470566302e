// Audio in and out of speech models: decoding any common container to mono
// samples, resampling, and encoding to what a client asked for.
//
// Built on libraries made for it: libsndfile (WAV, FLAC, OGG/Vorbis,
// OGG/Opus, MP3 in both directions, through Debian's libFLAC, libvorbis,
// libopus, libmpg123 and libmp3lame) and libsamplerate. Decoding reads from
// memory (no temporary file) and recognises the format from the bytes, never
// from a name or a content type.
//
// Every function is thread-safe (no shared state) and returns errors as
// values: kInvalidArgument with a message a client can act on ("not audio:
// the bytes start with '<htm'", "truncated WAV header", "audio is 612.0 s
// long; the limit is 600 s").
//
//   Result<Pcm> pcm = audio::decode(bytes, {.max_seconds = 600});
//   Result<Pcm> at16k = audio::resample(*pcm, 16000);
//   Result<std::string> mp3 = audio::encode(*at16k, "mp3");
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "modelpool/status.h"

namespace modelpool::audio {

// A mono signal: samples in [-1, 1] at sample_rate Hz.
struct Pcm {
  int sample_rate = 0;
  std::vector<float> samples;

  double seconds() const { return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0; }
};

struct DecodeLimits {
  // Longer audio is refused, before it is decoded in full.
  double max_seconds = 600;
  // Rates outside [min_rate, max_rate] are refused, naming the rate.
  int min_rate = 4000;
  int max_rate = 192000;
  // More channels than this are refused, naming the count.
  int max_channels = 8;
};

// The container `bytes` start with: "wav", "flac", "ogg", "mp3", "aiff", or
// empty when they are none of those.
std::string_view sniff_container(std::string_view bytes);

// Decodes a whole file held in memory, mixing its channels down to mono at
// the file's own rate. kInvalidArgument: zero bytes, not audio (naming what
// the bytes start with), a truncated or corrupt header, a rate or channel
// count outside `limits`, longer than limits.max_seconds, no samples.
Result<Pcm> decode(std::string_view bytes, const DecodeLimits& limits);

// Samples given as a tensor: "INT16" (little-endian) or "FP32" (in [-1, 1])
// mono samples at `sample_rate`. kInvalidArgument for another type, a size
// that is not a whole number of samples, a rate or a length outside
// `limits`.
Result<Pcm> from_samples(std::string_view type, std::string_view bytes, int sample_rate, const DecodeLimits& limits);

// `pcm` at `rate` Hz (libsamplerate, sinc interpolation). The same signal
// when the rates match.
Result<Pcm> resample(const Pcm& pcm, int rate);

// Samples as 16-bit integers, clipped to range.
std::vector<std::int16_t> to_int16(const Pcm& pcm);

// Encodes `pcm` as `format`: "wav" (16-bit PCM), "pcm" (raw 16-bit
// little-endian), "mp3", "opus" (in Ogg), "flac". A rate the codec cannot
// take is first resampled to the next one it can (Opus: 8, 12, 16, 24,
// 48 kHz; MP3: the MPEG rates from 8 to 48 kHz). Returns the whole file. kInvalidArgument for another format, naming the supported
// ones; kInternal when the encoder fails.
Result<std::string> encode(const Pcm& pcm, std::string_view format);

}  // namespace modelpool::audio
