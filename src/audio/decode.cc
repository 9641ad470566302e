// Decoding (audio.h): to be implemented.
#include "audio/audio.h"

namespace modelpool::audio {

std::string_view sniff_container(std::string_view) { return {}; }

Result<Pcm> decode(std::string_view, const DecodeLimits&) { return internal_error("audio decoding is not built yet"); }

Result<Pcm> from_samples(std::string_view, std::string_view, int, const DecodeLimits&) {
  return internal_error("audio decoding is not built yet");
}

}  // namespace modelpool::audio
