// One pocketsphinx decoder (ps_decoder_t): the execution state of an stt
// instance.
//
// What pocketsphinx 5prealpha lets decoders share, and what it does not
// (measured in docs/benchmarks.md, reproduced by build/bin/stt_measure):
//  - shared: with SttConfig::mmap, the acoustic model's mixture weights
//    (sendump) and model definition (mdef) are memory-mapped read-only, so
//    their pages exist once in the page cache for every decoder of every
//    process.
//  - per decoder: everything else. pocketsphinx has no API to hand one
//    acoustic model, dictionary or search to several decoders, and the
//    n-gram model cannot be shared safely anyway: sphinxbase's trie model
//    caches the last history and its back-off weights inside the model
//    (lm_trie_t::hist_cache, backoff_cache), written on every score, so two
//    decoders scoring through one model at once corrupt each other's scores.
//    With the en-us language model that is about 95 MiB a decoder (LM ~33,
//    search ~40, acoustic model and dictionary ~25); with a grammar or a
//    keyword list about 25 MiB.
//
// Thread safety: a Decoder is used by one thread at a time. create() is
// serialized process-wide: pocketsphinx's initialisation writes
// process-global state (the front end's frequency-warping parameters, the
// log callback), and serializing it costs only creation time.
//
// pocketsphinx's log output is switched off for the whole process the
// first time a decoder is created; its error messages, while a decoder is
// being created, become the error create() returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "backends/stt/stt_config.h"
#include "modelpool/status.h"

struct ps_decoder_s;

namespace modelpool::stt {

// A word of the best hypothesis as the engine gives it: fillers (<s>,
// <sil>, [NOISE]) and alternate pronunciations ("read(2)") included.
// Frames are inclusive, at Hypothesis::frame_rate per second.
struct EngineWord {
  std::string word;
  int start_frame = 0;
  int end_frame = 0;
};

struct Hypothesis {
  std::string text;  // the engine's best hypothesis, words separated by spaces
  std::vector<EngineWord> words;
  int frame_rate = 100;
};

// Where long audio is cut into utterances: [begin, end) sample ranges, in
// order, covering all of `samples`. Audio up to max_seconds is one piece;
// longer audio is cut, piece by piece, in the middle of the quietest 0.2 s
// between min_seconds and max_seconds into the piece.
struct Piece {
  std::size_t begin = 0;
  std::size_t end = 0;
};
inline constexpr double kMinPieceSeconds = 4;
inline constexpr double kMaxPieceSeconds = 8;
std::vector<Piece> split_at_pauses(std::span<const std::int16_t> samples, int sample_rate, double min_seconds,
                                   double max_seconds);

class Decoder {
 public:
  // Builds a decoder for `config`. kInvalidArgument with pocketsphinx's own
  // message when it refuses the configuration (a grammar that does not
  // parse, a word missing from the dictionary).
  static Result<std::unique_ptr<Decoder>> create(const SttConfig& config);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes `samples` (mono, at the config's sample_rate), normalised by
  // their own cepstral mean, as utterances of at most kMaxPieceSeconds cut
  // at pauses (split_at_pauses), each fed in chunks of 0.1 s; between chunks
  // it checks `stop` and then returns kCancelled, leaving the decoder ready
  // for the next request.
  // No samples: an empty hypothesis. kInternal when the engine fails.
  Result<Hypothesis> decode(std::span<const std::int16_t> samples, std::stop_token stop);

  // Heap bytes the decoder allocated when it was created (glibc's count of
  // bytes in use, before and after, under the creation lock; where another
  // allocator replaces glibc's, the growth of the resident set). Excludes
  // the memory-mapped model files, which are shared. Allocated, not all
  // resident: with the en-us LM, 97 MiB allocated for 88 MiB of PSS.
  std::size_t bytes() const { return bytes_; }

 private:
  Decoder(ps_decoder_s* ps, std::size_t bytes) : ps_(ps), bytes_(bytes) {}
  // One utterance, normalised by `mean`; frames from 0.
  Result<Hypothesis> decode_piece(std::span<const std::int16_t> samples, const std::vector<float>& mean,
                                  std::stop_token stop);

  ps_decoder_s* ps_;
  const std::size_t bytes_;
  // The cepstral mean the model starts from (its -cmninit), restored
  // before every utterance.
  std::vector<float> initial_cmn_;
};

}  // namespace modelpool::stt
