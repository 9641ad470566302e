// Fuzz target: an audio file as a client uploads it, decoded as a speech
// model's instance decodes it (stt_instance.cc): audio::decode with the
// default limits (sniff_container, then libsndfile over memory: WAV, RF64,
// FLAC, OGG Vorbis and Opus, MP3, AIFF headers and data). The same bytes are
// also read as raw samples, audio::from_samples, as a KServe client's INT16
// and FP32 sample tensors are.
//
// libsndfile and its codecs are the system's (not instrumented): the fuzzer
// is guided by modelpool's own code, and finds what ASan sees of theirs.
//
// Corpus: fuzz/corpus/audio (short files of each container, truncated and
// corrupt headers). Replayed by ctest fuzz.replay.audio.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "audio/audio.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modelpool::audio;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const DecodeLimits limits;
  decode(bytes, limits).status().ignore();
  from_samples("INT16", bytes, 16000, limits).status().ignore();
  from_samples("FP32", bytes, 16000, limits).status().ignore();
  return 0;
}
