#include "server/transcript_format.h"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace modelpool::server {
namespace {

namespace json = boost::json;

struct FormatName {
  std::string_view name;
  TranscriptFormat format;
};
constexpr FormatName kFormats[] = {
    {"json", TranscriptFormat::kJson}, {"text", TranscriptFormat::kText},
    {"srt", TranscriptFormat::kSrt},   {"verbose_json", TranscriptFormat::kVerboseJson},
    {"vtt", TranscriptFormat::kVtt},
};

constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
constexpr std::string_view kVttType = "text/vtt; charset=utf-8";

// Whole milliseconds of `seconds`; what is not a time (negative, NaN) is 0.
std::int64_t milliseconds(double seconds) {
  if (!(seconds > 0)) return 0;
  if (!std::isfinite(seconds)) return 0;
  return std::llround(seconds * 1000);
}

// Seconds as a JSON number, to the millisecond, shortest: 0, 1.5, 12.345.
std::string json_seconds(double seconds) {
  const double rounded = static_cast<double>(milliseconds(seconds)) / 1000;
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, rounded);
  return std::string(buf, end);
}

std::string json_string(std::string_view s) {
  return json::serialize(json::string_view(s.data(), s.size()));
}

// "00:00:01,500" (srt) or "00:00:01.500" (vtt); hours grow past two digits.
std::string cue_time(double seconds, char separator) {
  const std::int64_t ms = milliseconds(seconds);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld",
                static_cast<long long>(ms / 3'600'000), static_cast<long long>(ms / 60'000 % 60),
                static_cast<long long>(ms / 1000 % 60), separator,
                static_cast<long long>(ms % 1000));
  return buf;
}

// A cue's text: trimmed lines, empty ones dropped, "-->" as "->".
std::string cue_text(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i <= text.size()) {
    std::size_t eol = text.find_first_of("\r\n", i);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(i, eol - i);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (!line.empty()) {
      if (!out.empty()) out += '\n';
      for (std::size_t k = 0; k < line.size(); ++k) {
        if (line.substr(k, 3) == "-->") {
          out += "->";
          k += 2;
        } else {
          out += line[k];
        }
      }
    }
    i = eol + 1;
  }
  return out;
}

// The cues: the segments, or one over the whole audio when the model gave
// text without segments.
std::vector<speech::TimedText> cues_of(const speech::Transcript& t) {
  std::vector<speech::TimedText> cues;
  if (t.segments.empty()) {
    if (!cue_text(t.text).empty()) cues.push_back({0, t.duration, t.text});
    return cues;
  }
  for (const speech::TimedText& s : t.segments) {
    if (!cue_text(s.text).empty()) cues.push_back(s);
  }
  return cues;
}

std::string subtitles(const speech::Transcript& t, bool vtt) {
  std::string out = vtt ? "WEBVTT\n\n" : "";
  const char separator = vtt ? '.' : ',';
  std::size_t number = 0;
  for (const speech::TimedText& cue : cues_of(t)) {
    if (!vtt) out += std::to_string(++number) + "\n";
    out += cue_time(cue.start, separator) + " --> " + cue_time(cue.end, separator) + "\n";
    out += cue_text(cue.text) + "\n\n";
  }
  return out;
}

std::string verbose_json(const speech::Transcript& t, bool words) {
  std::string out = "{\"task\":\"transcribe\",\"language\":" + json_string(t.language) +
                    ",\"duration\":" + json_seconds(t.duration) +
                    ",\"text\":" + json_string(t.text) + ",\"segments\":[";
  for (std::size_t i = 0; i < t.segments.size(); ++i) {
    const speech::TimedText& s = t.segments[i];
    if (i > 0) out += ',';
    out += "{\"id\":" + std::to_string(i) + ",\"start\":" + json_seconds(s.start) +
           ",\"end\":" + json_seconds(s.end) + ",\"text\":" + json_string(s.text) + "}";
  }
  out += ']';
  if (words) {
    out += ",\"words\":[";
    for (std::size_t i = 0; i < t.words.size(); ++i) {
      const speech::TimedText& w = t.words[i];
      if (i > 0) out += ',';
      out += "{\"word\":" + json_string(w.text) + ",\"start\":" + json_seconds(w.start) +
             ",\"end\":" + json_seconds(w.end) + "}";
    }
    out += ']';
  }
  out += '}';
  return out;
}

}  // namespace

std::string_view transcript_format_names() {
  return "json, text, srt, verbose_json, vtt";
}

Result<TranscriptFormat> find_transcript_format(std::string_view name) {
  for (const FormatName& f : kFormats) {
    if (f.name == name) return f.format;
  }
  return invalid_argument_error(
      "response_format: '" + std::string(name) +
      "' is not supported; supported: " + std::string(transcript_format_names()));
}

RenderedTranscript render_transcript(const speech::Transcript& t, TranscriptFormat format,
                                     bool words) {
  switch (format) {
    case TranscriptFormat::kJson: return {"{\"text\":" + json_string(t.text) + "}", kJsonType};
    case TranscriptFormat::kText: return {t.text + "\n", kTextType};
    case TranscriptFormat::kSrt: return {subtitles(t, false), kTextType};
    case TranscriptFormat::kVtt: return {subtitles(t, true), kVttType};
    case TranscriptFormat::kVerboseJson: return {verbose_json(t, words), kJsonType};
  }
  return {"", kTextType};
}

}  // namespace modelpool::server
