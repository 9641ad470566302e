// From the engine's words (decoder.h) to a transcript's segments and words
// (speech.h): fillers dropped, alternate pronunciations named by their
// word, frames turned into seconds, segments split at pauses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "backends/stt/decoder.h"
#include "modelpool/speech.h"

namespace modelpool::stt {

// A pause at least this long between two words starts a new segment,
// whether the engine marks it with silence fillers (<sil>) or leaves a gap.
inline constexpr double kSegmentPauseSeconds = 0.3;

// Whether `word` is a filler, not a word: <s>, </s>, <sil>, [NOISE],
// [SPEECH], ++GARBAGE++ and the like.
bool is_filler(std::string_view word);

// `word` without its alternate-pronunciation suffix: "read(2)" -> "read".
std::string_view base_word(std::string_view word);

struct TimedWords {
  std::vector<speech::TimedText> segments;
  std::vector<speech::TimedText> words;  // every word, fillers dropped
};

// Word i spans [start_frame / frame_rate, (end_frame + 1) / frame_rate)
// seconds; a segment spans its first word's start to its last word's end
// and its text is its words separated by spaces. REQUIRES: frame_rate > 0.
TimedWords timed_words(const std::vector<EngineWord>& engine_words, int frame_rate,
                       double pause_seconds = kSegmentPauseSeconds);

}  // namespace modelpool::stt
