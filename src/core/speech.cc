#include "modelpool/speech.h"

#include <cstdint>
#include <cstring>
#include <utility>

namespace modelpool::speech {
namespace {

Tensor bytes_tensor(std::string name, const std::vector<std::string>& elements) {
  std::string data;
  for (const std::string& e : elements) data += encode_bytes_element(e);
  return Tensor{std::move(name), "BYTES", {static_cast<std::int64_t>(elements.size())}, Buffer::adopt(std::move(data))};
}

Tensor times_tensor(std::string name, const std::vector<TimedText>& items) {
  std::string data(items.size() * 2 * sizeof(float), '\0');
  for (std::size_t i = 0; i < items.size(); ++i) {
    const float pair[2] = {static_cast<float>(items[i].start), static_cast<float>(items[i].end)};
    std::memcpy(data.data() + i * sizeof pair, pair, sizeof pair);
  }
  return Tensor{std::move(name), "FP32", {static_cast<std::int64_t>(items.size()), 2}, Buffer::adopt(std::move(data))};
}

const Tensor* find_output(const std::vector<Tensor>& outputs, std::string_view name) {
  for (const Tensor& t : outputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Every element of a BYTES tensor.
Result<std::vector<std::string>> bytes_elements(const Tensor& t) {
  if (t.datatype != "BYTES") return internal_error("output '" + t.name + "' is " + t.datatype + ", expected BYTES");
  std::vector<std::string> out;
  std::string_view rest = t.data.view();
  while (!rest.empty()) {
    std::uint32_t len = 0;
    if (rest.size() < 4) return internal_error("output '" + t.name + "': truncated element");
    std::memcpy(&len, rest.data(), 4);
    rest.remove_prefix(4);
    if (rest.size() < len) return internal_error("output '" + t.name + "': truncated element");
    out.emplace_back(rest.substr(0, len));
    rest.remove_prefix(len);
  }
  return out;
}

Result<std::vector<float>> floats(const Tensor& t) {
  if (t.datatype != "FP32" || t.data.size() % sizeof(float) != 0) {
    return internal_error("output '" + t.name + "' is not FP32");
  }
  std::vector<float> out(t.data.size() / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

// Texts and their [start, end] pairs, from two outputs of the same length.
Result<std::vector<TimedText>> read_timed(const std::vector<Tensor>& outputs, std::string_view text_name,
                                          std::string_view times_name) {
  const Tensor* text = find_output(outputs, text_name);
  const Tensor* times = find_output(outputs, times_name);
  if (text == nullptr && times == nullptr) return std::vector<TimedText>{};
  if (text == nullptr || times == nullptr) {
    return internal_error("outputs '" + std::string(text_name) + "' and '" + std::string(times_name) +
                          "' come together");
  }
  Result<std::vector<std::string>> texts = bytes_elements(*text);
  if (!texts.ok()) return texts.status();
  Result<std::vector<float>> pairs = floats(*times);
  if (!pairs.ok()) return pairs.status();
  if (pairs->size() != texts->size() * 2) {
    return internal_error("output '" + std::string(times_name) + "' does not match '" + std::string(text_name) + "'");
  }
  std::vector<TimedText> out;
  for (std::size_t i = 0; i < texts->size(); ++i) {
    out.push_back({(*pairs)[2 * i], (*pairs)[2 * i + 1], std::move((*texts)[i])});
  }
  return out;
}

Result<std::string> read_one_bytes(const std::vector<Tensor>& outputs, std::string_view name) {
  const Tensor* t = find_output(outputs, name);
  if (t == nullptr) return internal_error("the model returned no '" + std::string(name) + "' output");
  Result<std::vector<std::string>> e = bytes_elements(*t);
  if (!e.ok()) return e.status();
  if (e->size() != 1) return internal_error("output '" + std::string(name) + "' has " + std::to_string(e->size()) + " elements, expected 1");
  return std::move(e->front());
}

}  // namespace

Request transcription_request(Buffer file, const TranscribeOptions& options) {
  Request r;
  std::string element = encode_bytes_element(file.view());
  r.inputs.push_back(Tensor{"audio", "BYTES", {1}, Buffer::adopt(std::move(element))});
  if (!options.language.empty()) r.parameters.set("language", options.language);
  if (!options.prompt.empty()) r.parameters.set("prompt", options.prompt);
  if (options.temperature != 0) r.parameters.set("temperature", options.temperature);
  if (options.word_timestamps) r.parameters.set("word_timestamps", true);
  return r;
}

Result<AudioInput> read_transcription(const Request& request) {
  if (Status s = request.parameters.refuse_unknown({"language", "prompt", "temperature", "word_timestamps", "sample_rate"});
      !s.ok()) {
    return s;
  }
  const Tensor* audio = nullptr;
  for (const Tensor& t : request.inputs) {
    if (t.name != "audio") return invalid_argument_error("unknown input '" + t.name + "': a transcription takes one input, 'audio'");
    audio = &t;
  }
  if (audio == nullptr) return invalid_argument_error("missing input 'audio' (an audio file as BYTES, or INT16/FP32 samples)");
  AudioInput in;
  const Parameters& p = request.parameters;
  std::int64_t rate = 0;
  if (Status s = p.read_string("language", &in.options.language); !s.ok()) return s;
  if (Status s = p.read_string("prompt", &in.options.prompt); !s.ok()) return s;
  if (Status s = p.read_number("temperature", &in.options.temperature, 0, 1); !s.ok()) return s;
  if (Status s = p.read_bool("word_timestamps", &in.options.word_timestamps); !s.ok()) return s;
  if (Status s = p.read_int("sample_rate", &rate, 1, 1'000'000); !s.ok()) return s;
  if (audio->datatype == "BYTES") {
    if (rate != 0) return invalid_argument_error("parameter 'sample_rate' applies to INT16/FP32 samples, not to an audio file (BYTES)");
    if (audio->shape.size() != 1 || audio->shape[0] != 1) {
      return invalid_argument_error("input 'audio' (BYTES) must hold one element, a whole audio file");
    }
    Result<std::string> file = first_bytes_element(*audio);
    if (!file.ok()) return file.status();
    // The element follows its 4-byte length: view it instead of copying.
    in.file = audio->data.slice(4, file->size());
    return in;
  }
  if (audio->datatype != "INT16" && audio->datatype != "FP32") {
    return invalid_argument_error("input 'audio' is " + audio->datatype +
                                  "; expected BYTES (an audio file) or INT16/FP32 samples");
  }
  if (rate == 0) return invalid_argument_error("input 'audio' holds " + audio->datatype + " samples: parameter 'sample_rate' is required");
  const bool mono = audio->shape.size() == 1 || (audio->shape.size() == 2 && audio->shape[0] == 1);
  if (!mono) return invalid_argument_error("input 'audio' must be mono samples, shape [n] or [1, n]");
  in.sample_type = audio->datatype;
  in.samples = audio->data;
  in.sample_rate = static_cast<int>(rate);
  return in;
}

std::vector<Tensor> transcript_outputs(const Transcript& t) {
  std::vector<Tensor> out;
  out.push_back(bytes_tensor("text", {t.text}));
  out.push_back(bytes_tensor("language", {t.language}));
  std::string duration(sizeof(float), '\0');
  const auto d = static_cast<float>(t.duration);
  std::memcpy(duration.data(), &d, sizeof d);
  out.push_back(Tensor{"duration", "FP32", {1}, Buffer::adopt(std::move(duration))});
  std::vector<std::string> texts;
  for (const TimedText& s : t.segments) texts.push_back(s.text);
  out.push_back(bytes_tensor("segment_text", texts));
  out.push_back(times_tensor("segment_times", t.segments));
  if (!t.words.empty()) {
    texts.clear();
    for (const TimedText& w : t.words) texts.push_back(w.text);
    out.push_back(bytes_tensor("word_text", texts));
    out.push_back(times_tensor("word_times", t.words));
  }
  return out;
}

Result<Transcript> read_transcript(const std::vector<Tensor>& outputs) {
  Transcript t;
  Result<std::string> text = read_one_bytes(outputs, "text");
  if (!text.ok()) return text.status();
  t.text = std::move(*text);
  if (find_output(outputs, "language") != nullptr) {
    Result<std::string> language = read_one_bytes(outputs, "language");
    if (!language.ok()) return language.status();
    t.language = std::move(*language);
  }
  if (const Tensor* d = find_output(outputs, "duration")) {
    Result<std::vector<float>> v = floats(*d);
    if (!v.ok()) return v.status();
    if (v->size() != 1) return internal_error("output 'duration' must hold one value");
    t.duration = v->front();
  }
  Result<std::vector<TimedText>> segments = read_timed(outputs, "segment_text", "segment_times");
  if (!segments.ok()) return segments.status();
  t.segments = std::move(*segments);
  Result<std::vector<TimedText>> words = read_timed(outputs, "word_text", "word_times");
  if (!words.ok()) return words.status();
  t.words = std::move(*words);
  return t;
}

const std::vector<SpeechFormat>& speech_formats() {
  static const std::vector<SpeechFormat> formats = {
      {"wav", "audio/wav", "WAV, 16-bit PCM"},
      {"pcm", "audio/pcm", "raw 16-bit little-endian mono samples at the output's sample_rate"},
      {"mp3", "audio/mpeg", "MP3 (LAME)"},
      {"opus", "audio/ogg", "Opus in an Ogg container"},
      {"flac", "audio/flac", "FLAC"},
  };
  return formats;
}

Result<SpeechFormat> find_speech_format(std::string_view name) {
  std::string names;
  for (const SpeechFormat& f : speech_formats()) {
    if (f.name == name) return f;
    names += names.empty() ? "" : ", ";
    names += f.name;
  }
  return invalid_argument_error("unknown response_format '" + std::string(name) + "'; supported: " + names);
}

Request speech_request(std::string_view text, const SpeakOptions& options) {
  Request r;
  r.inputs.push_back(Tensor{"text", "BYTES", {1}, Buffer::adopt(encode_bytes_element(text))});
  if (!options.voice.empty()) r.parameters.set("voice", options.voice);
  if (options.speed != 1.0) r.parameters.set("speed", options.speed);
  r.parameters.set("response_format", options.format);
  return r;
}

Result<SpeechInput> read_speech(const Request& request) {
  if (Status s = request.parameters.refuse_unknown({"voice", "speed", "response_format"}); !s.ok()) return s;
  const Tensor* text = nullptr;
  for (const Tensor& t : request.inputs) {
    if (t.name != "text") return invalid_argument_error("unknown input '" + t.name + "': speech takes one input, 'text'");
    text = &t;
  }
  if (text == nullptr) return invalid_argument_error("missing input 'text' (BYTES: what to say)");
  Result<std::string> said = first_bytes_element(*text);
  if (!said.ok()) return said.status();
  if (said->find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalid_argument_error("input 'text' is empty: nothing to say");
  }
  SpeechInput in;
  in.text = std::move(*said);
  const Parameters& p = request.parameters;
  if (Status s = p.read_string("voice", &in.options.voice); !s.ok()) return s;
  if (Status s = p.read_number("speed", &in.options.speed, 0.25, 4.0); !s.ok()) return s;
  if (Status s = p.read_string("response_format", &in.options.format); !s.ok()) return s;
  if (Result<SpeechFormat> f = find_speech_format(in.options.format); !f.ok()) return f.status();
  return in;
}

std::vector<Tensor> speech_outputs(Speech speech) {
  std::vector<Tensor> out;
  out.push_back(Tensor{"audio", "BYTES", {1}, Buffer::adopt(encode_bytes_element(speech.audio))});
  std::string rate(sizeof(std::int32_t), '\0');
  const auto r = static_cast<std::int32_t>(speech.sample_rate);
  std::memcpy(rate.data(), &r, sizeof r);
  out.push_back(Tensor{"sample_rate", "INT32", {1}, Buffer::adopt(std::move(rate))});
  return out;
}

Result<Speech> read_speech_outputs(const std::vector<Tensor>& outputs) {
  Speech s;
  Result<std::string> audio = read_one_bytes(outputs, "audio");
  if (!audio.ok()) return audio.status();
  s.audio = std::move(*audio);
  if (const Tensor* r = find_output(outputs, "sample_rate")) {
    if (r->datatype != "INT32" || r->data.size() != sizeof(std::int32_t)) {
      return internal_error("output 'sample_rate' must be one INT32");
    }
    std::int32_t rate = 0;
    std::memcpy(&rate, r->data.data(), sizeof rate);
    s.sample_rate = rate;
  }
  return s;
}

}  // namespace modelpool::speech
