#include "server/audio_request.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "server/multipart.h"
#include "server/request_fields.h"

namespace modelpool::server {
namespace {

namespace json = boost::json;

// The transcription's fields, in the order messages list them. Each may
// appear once, but the array.
constexpr std::string_view kTranscriptionFields[] = {
    "file",
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "timestamp_granularities[]",
    "stream",
};
constexpr std::string_view kGranularities = "timestamp_granularities[]";

std::string field_list() {
  std::string out;
  for (std::string_view f : kTranscriptionFields) {
    if (!out.empty()) out += ", ";
    out += f;
  }
  return out;
}

// A number written as text, whole: "0.2", "1", "1e-1".
bool parse_number(std::string_view text, double* out) {
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && p == end && std::isfinite(*out);
}

bool only_spaces(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Unicode code points of UTF-8 text (JSON strings are valid UTF-8).
std::size_t characters(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

Result<TranscriptionAsk> parse_transcription_ask(std::string_view content_type,
                                                 const Buffer& body) {
  if (!is_form_data(content_type)) {
    return invalid_argument_error(
        "this endpoint takes multipart/form-data (the fields " + field_list() + "); " +
        (content_type.empty()
             ? std::string("the request has no Content-Type")
             : "the request's Content-Type is '" + std::string(content_type) + "'"));
  }
  Result<std::string> boundary = form_data_boundary(content_type);
  if (!boundary.ok()) return boundary.status();
  Result<std::vector<FormPart>> parts = parse_form_data(body, *boundary);
  if (!parts.ok()) return parts.status();

  const FormPart* file = nullptr;
  std::vector<std::string_view> granularities;
  // The single-valued fields given, by name.
  std::vector<const FormPart*> fields;
  auto field = [&](std::string_view name) -> const FormPart* {
    for (const FormPart* p : fields) {
      if (p->name == name) return p;
    }
    return nullptr;
  };
  for (const FormPart& part : *parts) {
    if (std::find(std::begin(kTranscriptionFields), std::end(kTranscriptionFields), part.name) ==
        std::end(kTranscriptionFields)) {
      return invalid_argument_error(
          part.name + ": not supported by this server (the fields: " + field_list() + ")");
    }
    if (part.name == kGranularities) {
      granularities.push_back(part.data.view());
      continue;
    }
    if (field(part.name) != nullptr) {
      return invalid_argument_error("multipart body has more than one '" + part.name + "' part");
    }
    fields.push_back(&part);
    if (part.name == "file") file = &part;
  }

  TranscriptionAsk ask;
  if (file == nullptr) return invalid_argument_error("multipart body has no 'file' part");
  if (file->data.empty()) return invalid_argument_error("the 'file' part is empty");
  ask.file = file->data;
  const FormPart* model = field("model");
  if (model == nullptr) return invalid_argument_error("multipart body has no 'model' part");
  if (model->data.empty()) return invalid_argument_error("model: empty");
  ask.model = std::string(model->data.view());
  if (const FormPart* p = field("language")) ask.options.language = std::string(p->data.view());
  if (const FormPart* p = field("prompt")) ask.options.prompt = std::string(p->data.view());

  std::string_view format_name = "json";
  if (const FormPart* p = field("response_format")) format_name = p->data.view();
  Result<TranscriptFormat> format = find_transcript_format(format_name);
  if (!format.ok()) return format.status();
  ask.format = *format;

  if (const FormPart* p = field("temperature")) {
    double t = 0;
    if (!parse_number(p->data.view(), &t) || t < 0 || t > 1) {
      return invalid_argument_error("temperature: expected a number in [0, 1], got '" +
                                    std::string(p->data.view()) + "'");
    }
    ask.options.temperature = t;
  }

  for (std::string_view g : granularities) {
    if (g == "word") {
      ask.options.word_timestamps = true;
    } else if (g != "segment") {
      return invalid_argument_error(std::string(kGranularities) + ": '" + std::string(g) +
                                    "' is not supported; supported: segment, word");
    }
  }
  if (!granularities.empty() && ask.format != TranscriptFormat::kVerboseJson) {
    return invalid_argument_error(std::string(kGranularities) +
                                  ": timestamps need response_format verbose_json (it is '" +
                                  std::string(format_name) + "')");
  }

  if (const FormPart* p = field("stream")) {
    if (p->data.view() == "true")
      return invalid_argument_error("stream: not supported by this server (only false)");
    if (p->data.view() != "false") {
      return invalid_argument_error("stream: expected true or false, got '" +
                                    std::string(p->data.view()) + "'");
    }
  }
  return ask;
}

Result<SpeechAsk> parse_speech_ask(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  Fields f(*doc);
  f.only({"model", "input", "voice", "response_format", "speed"});
  SpeechAsk ask;
  f.required_string("model", &ask.model);
  f.required_string("input", &ask.input);
  if (const json::value* v = f.get("voice"); v != nullptr && !v->is_null()) {
    f.required_string("voice", &ask.options.voice);
  }
  std::string format = "mp3";
  if (const json::value* v = f.get("response_format"); v != nullptr && !v->is_null()) {
    f.required_string("response_format", &format);
  }
  f.optional_number("speed", &ask.options.speed, 0.25, 4.0);
  if (Status s = f.status(); !s.ok()) return s;
  if (ask.model.empty()) return invalid_argument_error("model: empty");
  if (only_spaces(ask.input))
    return invalid_argument_error("input: empty: there is nothing to say");
  if (const std::size_t n = characters(ask.input); n > kMaxSpeechInputCharacters) {
    return invalid_argument_error("input: " + std::to_string(n) + " characters; at most " +
                                  std::to_string(kMaxSpeechInputCharacters) + " are allowed");
  }
  Result<speech::SpeechFormat> found = speech::find_speech_format(format);
  if (!found.ok()) return found.status();
  ask.options.format = format;
  ask.content_type = found->content_type;
  return ask;
}

}  // namespace modelpool::server
