// Encoding (audio.h): to be implemented.
#include "audio/audio.h"

namespace modelpool::audio {

Result<std::string> encode(const Pcm&, std::string_view) { return internal_error("audio encoding is not built yet"); }

}  // namespace modelpool::audio
