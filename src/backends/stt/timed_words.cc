#include "backends/stt/timed_words.h"

#include <cctype>

namespace modelpool::stt {

bool is_filler(std::string_view word) {
  if (word.empty()) return true;
  const char c = word.front();
  return c == '<' || c == '[' || (c == '+' && word.size() > 1 && word[1] == '+');
}

std::string_view base_word(std::string_view word) {
  if (word.size() < 3 || word.back() != ')') return word;
  const std::size_t open = word.rfind('(');
  if (open == std::string_view::npos || open == 0 || open + 2 > word.size() - 1) return word;
  for (std::size_t i = open + 1; i + 1 < word.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(word[i]))) return word;
  }
  return word.substr(0, open);
}

TimedWords timed_words(const std::vector<EngineWord>& engine_words, int frame_rate, double pause_seconds) {
  TimedWords out;
  const double rate = frame_rate;
  for (const EngineWord& w : engine_words) {
    if (is_filler(w.word)) continue;
    speech::TimedText word{w.start_frame / rate, (w.end_frame + 1) / rate, std::string(base_word(w.word))};
    if (out.segments.empty() || word.start - out.segments.back().end >= pause_seconds) {
      out.segments.push_back(word);
    } else {
      speech::TimedText& segment = out.segments.back();
      segment.text += ' ';
      segment.text += word.text;
      segment.end = word.end;
    }
    out.words.push_back(std::move(word));
  }
  return out;
}

}  // namespace modelpool::stt
