// The OpenAI audio routes (audio_api.cc, and the fields of audio_request.h)
// through the real HTTP server and Api, with speech models of a fake engine
// the server knows only through its catalog: the requests as the OpenAI SDK
// writes them, every refusal with its message, the upload limit, deadlines
// and the metrics.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "modelpool/speech.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/model_manager.h"

namespace modelpool::server {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace net = boost::asio;
using tcp = net::ip::tcp;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// ---- A fake speech engine ---------------------------------------------------
//
// Its "audio files" are "FAKEWAV" and the words said, segments separated by
// '|', each segment 1.5 s long and its words evenly spread. "FAKEWAV SLOW"
// holds its instance until stopped (or 5 s); "FAKEWAV STUCK" holds it for
// 800 ms whatever its stop says; "FAKEWAV NO TEXT" answers
// without the "text" output. Speech is the format, voice, speed and text,
// joined by '|'.

// What the engine last received.
struct Received {
  std::mutex mu;
  speech::AudioInput transcription;
  speech::SpeechInput speech;
};
Received& received() {
  static Received r;
  return r;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    out.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

Status hold(std::stop_token stop) {
  const auto until = Clock::now() + 5s;
  while (!stop.stop_requested() && Clock::now() < until) std::this_thread::sleep_for(1ms);
  return cancelled_error("stopped");
}

class FakeSpeechInstance final : public Instance {
 public:
  std::size_t bytes() const override { return 0; }
  Status run(const Request& request, Sink& sink, std::stop_token stop) override {
    if (!request.inputs.empty() && request.inputs[0].name == "text")
      return speak(request, sink, stop);
    Result<speech::AudioInput> in = speech::read_transcription(request);
    if (!in.ok()) return in.status();
    {
      std::lock_guard lock(received().mu);
      received().transcription = *in;
    }
    const std::string_view file = in->file.view();
    if (!file.starts_with("FAKEWAV")) {
      return invalid_argument_error(
          "not audio: the file's first bytes are no audio format this model reads");
    }
    const std::string said(file.substr(std::string_view("FAKEWAV").size()));
    if (said == " SLOW") return hold(stop);
    if (said == " STUCK") {
      std::this_thread::sleep_for(800ms);
      return cancelled_error("stopped late");
    }
    speech::Transcript t;
    t.language = in->options.language.empty() ? "en" : in->options.language;
    double at = 0;
    for (const std::string& segment : split(said, '|')) {
      t.segments.push_back({at, at + 1.5, segment});
      if (in->options.word_timestamps) {
        const std::vector<std::string> words =
            split(segment.substr(segment.find_first_not_of(' ')), ' ');
        for (std::size_t i = 0; i < words.size(); ++i) {
          const double step = 1.5 / static_cast<double>(words.size());
          t.words.push_back({at + step * static_cast<double>(i),
                             at + step * static_cast<double>(i + 1), words[i]});
        }
      }
      t.text += segment;
      at += 1.5;
    }
    t.duration = at;
    for (Tensor& out : speech::transcript_outputs(t)) {
      if (said == " NO TEXT" && out.name == "text") continue;
      if (!sink.write(std::move(out))) return cancelled_error("consumer gone");
    }
    return {};
  }

 private:
  Status speak(const Request& request, Sink& sink, std::stop_token stop) {
    Result<speech::SpeechInput> in = speech::read_speech(request);
    if (!in.ok()) return in.status();
    {
      std::lock_guard lock(received().mu);
      received().speech = *in;
    }
    if (in->text == "SLOW") return hold(stop);
    std::ostringstream audio;
    audio << in->options.format << '|' << in->options.voice << '|' << in->options.speed << '|'
          << in->text;
    for (Tensor& out : speech::speech_outputs({audio.str(), 24000})) {
      if (!sink.write(std::move(out))) return cancelled_error("consumer gone");
    }
    return {};
  }
};

class FakeWeights final : public Weights {
 public:
  std::size_t bytes() const override { return 1; }
};

class FakeSpeechBackend final : public Backend {
 public:
  FakeSpeechBackend(std::string name, Capabilities capabilities)
      : info_{std::move(name), "a fake speech engine", capabilities, false, false, {}} {}
  const BackendInfo& info() const override { return info_; }
  Result<std::shared_ptr<const Weights>> load(const ModelSpec&, const ProgressFn&) override {
    return std::shared_ptr<const Weights>(std::make_shared<FakeWeights>());
  }
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights>,
                                                const ModelSpec&) override {
    return std::unique_ptr<Instance>(std::make_unique<FakeSpeechInstance>());
  }

 private:
  const BackendInfo info_;
};

// ---- An HTTP client ---------------------------------------------------------

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  // The OpenAI error's message ("" when the body is not one).
  std::string error_message() const {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("error")) return "";
    const json::value& e = v.at("error");
    return e.is_object() && e.as_object().contains("message")
               ? std::string(e.at("message").as_string())
               : "";
  }
};

// Sends `raw` (a whole request, or its start) and reads one response.
Reply exchange_raw(std::uint16_t port, const std::string& raw) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  net::write(socket, net::buffer(raw), ec);  // the server may refuse before it reads everything
  boost::beast::flat_buffer buffer;
  boost::beast::http::response_parser<boost::beast::http::string_body> parser;
  parser.body_limit(64 << 20);
  boost::beast::http::read(socket, buffer, parser, ec);
  if (ec) return {-1, "", ec.message()};
  const auto& res = parser.get();
  return {static_cast<int>(res.result_int()),
          std::string(res[boost::beast::http::field::content_type]), res.body()};
}

Reply post(std::uint16_t port, std::string_view target, std::string_view content_type,
           const std::string& body) {
  std::string raw =
      "POST " + std::string(target) + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n";
  if (!content_type.empty()) raw += "Content-Type: " + std::string(content_type) + "\r\n";
  raw += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return exchange_raw(port, raw);
}

// A multipart/form-data body as the OpenAI Node SDK's encoder writes it.
class Form {
 public:
  Form& field(std::string_view name, std::string_view value) {
    body_ += "--" + boundary_ + "\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
             "\"\r\n\r\n" + std::string(value) + "\r\n";
    return *this;
  }
  Form& file(std::string_view bytes, std::string_view name = "file") {
    body_ += "--" + boundary_ + "\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
             "\"; filename=\"speech.wav\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
             std::string(bytes) + "\r\n";
    return *this;
  }
  std::string content_type() const { return "multipart/form-data; boundary=" + boundary_; }
  std::string body() const { return body_ + "--" + boundary_ + "--\r\n\r\n"; }

 private:
  std::string boundary_ = "form-data-boundary-t3st0123456789ab";
  std::string body_;
};

// ---- The server -------------------------------------------------------------

ModelConfig model_config(const std::string& name, const std::string& backend) {
  ModelConfig c;
  c.name = name;
  c.backend = backend;
  c.min_instances = c.max_instances = 1;
  c.max_queue = 4;
  c.timeout_ms = 300;
  return c;
}

class AudioApiTest : public ::testing::Test {
 protected:
  AudioApiTest() {
    catalog_.add(std::make_shared<FakeSpeechBackend>(
        "fake-speech", (Capability::kInfer | Capability::kTranscribe) |
                           static_cast<unsigned>(Capability::kSpeak)));
    catalog_.add(std::make_shared<FakeSpeechBackend>(
        "fake-tensors", static_cast<Capabilities>(Capability::kInfer)));
    models_ = std::make_unique<ModelManager>(
        std::vector<ModelConfig>{model_config("speech", "fake-speech"),
                                 model_config("tensors", "fake-tensors")},
        catalog_);
    EXPECT_TRUE(models_->load("speech").ok());
    EXPECT_TRUE(models_->load("tensors").ok());
    ApiOptions api_options;
    api_options.max_audio_upload_mb = 1;
    api_ = std::make_unique<Api>(*models_, api_options);
    HttpOptions http_options;
    http_options.port = 0;
    http_options.max_body_bytes = 64 * 1024;
    http_options.error_body = http_error_body;
    http_options.body_limit = [this](const HttpRequest& r) { return api_->body_limit(r); };
    http_options.on_answered = [this](const AccessRecord& r) {
      std::lock_guard lock(mu_);
      noted_models_.push_back(r.note ? r.note->model : "");
      answered_.notify_all();
    };
    http_ = std::make_unique<HttpServer>(
        http_options, [this](std::shared_ptr<Exchange> ex) { api_->handle(ex); });
    EXPECT_TRUE(http_->start().ok());
  }
  ~AudioApiTest() override {
    http_->begin_drain();
    models_->shutdown_all(1s);
    api_->wait_idle();
    http_->stop();
  }

  Reply transcribe(const Form& form) {
    return post(http_->port(), "/v1/audio/transcriptions", form.content_type(), form.body());
  }
  Reply speak(const std::string& json_body) {
    return post(http_->port(), "/v1/audio/speech", "application/json", json_body);
  }
  ServedModel& speech_model() { return *models_->find("speech"); }
  // The access log's model of the `n`th answered request (from 1).
  std::string noted_model(std::size_t n) {
    std::unique_lock lock(mu_);
    answered_.wait_for(lock, 5s, [&] { return noted_models_.size() >= n; });
    return noted_models_.size() >= n ? noted_models_[n - 1] : "(not answered)";
  }

  BackendCatalog catalog_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> http_;
  std::mutex mu_;
  std::condition_variable answered_;
  std::vector<std::string> noted_models_;  // guarded by mu_
};

// A 400 in OpenAI's error shape whose message holds `needle`.
void expect_400(const Reply& r, std::string_view needle) {
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_TRUE(contains(r.error_message(), needle)) << r.body << "\nwant: " << needle;
  EXPECT_TRUE(contains(r.body, R"("type":"invalid_request_error")")) << r.body;
}

TEST_F(AudioApiTest, TranscribesInJsonByDefault) {
  const std::string file = "FAKEWAV Hello there.| General Kenobi!";
  const Reply r = transcribe(Form().file(file).field("model", "speech"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"text":" Hello there. General Kenobi!"})");
  std::lock_guard lock(received().mu);
  // The part's bytes, whole; nothing asked but the defaults.
  EXPECT_EQ(received().transcription.file.view(), file);
  EXPECT_EQ(received().transcription.options.language, "");
  EXPECT_EQ(received().transcription.options.prompt, "");
  EXPECT_EQ(received().transcription.options.temperature, 0);
  EXPECT_FALSE(received().transcription.options.word_timestamps);
}

TEST_F(AudioApiTest, PassesTheOptionsToTheModel) {
  const Reply r = transcribe(Form()
                                 .field("model", "speech")
                                 .field("language", "fr")
                                 .field("prompt", "Bonjour")
                                 .field("temperature", "0.2")
                                 .field("stream", "false")
                                 .field("response_format", "verbose_json")
                                 .field("timestamp_granularities[]", "segment")
                                 .field("timestamp_granularities[]", "word")
                                 .file("FAKEWAV un deux| trois"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(
      r.body,
      R"({"task":"transcribe","language":"fr","duration":3,"text":" un deux trois",)"
      R"("segments":[{"id":0,"start":0,"end":1.5,"text":" un deux"},{"id":1,"start":1.5,"end":3,"text":" trois"}],)"
      R"("words":[{"word":"un","start":0,"end":0.75},{"word":"deux","start":0.75,"end":1.5},)"
      R"({"word":"trois","start":1.5,"end":3}]})");
  std::lock_guard lock(received().mu);
  EXPECT_EQ(received().transcription.options.language, "fr");
  EXPECT_EQ(received().transcription.options.prompt, "Bonjour");
  EXPECT_DOUBLE_EQ(received().transcription.options.temperature, 0.2);
  EXPECT_TRUE(received().transcription.options.word_timestamps);
}

// A request as the OpenAI Node SDK 4.104.0 (tests/openai-sdk) wrote it, byte
// for byte: audio.transcriptions.create({file: await toFile(Buffer.from(
// "RIFFxxxxWAVE\r\n\r\n--"), 'a b".wav'), model: "speech", response_format:
// "verbose_json", timestamp_granularities: ["word", "segment"], temperature:
// 0.2, language: "en", prompt: "Line1\nLine2"}).
TEST_F(AudioApiTest, ReadsTheRequestTheOpenAiNodeSdkWrites) {
  const std::string b = "--form-data-boundary-x5stzvn115ce3t16\r\n";
  const std::string body =
      b + "Content-Disposition: form-data; name=\"model\"\r\n\r\nspeech\r\n" + b +
      "Content-Disposition: form-data; name=\"response_format\"\r\n\r\nverbose_json\r\n" + b +
      "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n\r\nword\r\n" + b +
      "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n\r\nsegment\r\n" + b +
      "Content-Disposition: form-data; name=\"temperature\"\r\n\r\n0.2\r\n" + b +
      "Content-Disposition: form-data; name=\"language\"\r\n\r\nen\r\n" + b +
      "Content-Disposition: form-data; name=\"prompt\"\r\n\r\nLine1\r\nLine2\r\n" + b +
      "Content-Disposition: form-data; name=\"file\"; filename=\"a b%22.wav\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\nRIFFxxxxWAVE\r\n\r\n--\r\n"
      "--form-data-boundary-x5stzvn115ce3t16--\r\n\r\n";
  const Reply r = post(http_->port(), "/v1/audio/transcriptions",
                       "multipart/form-data; boundary=form-data-boundary-x5stzvn115ce3t16", body);
  // The fake engine does not read RIFF: its refusal shows the request
  // reached it, with every field read.
  expect_400(r, "not audio: ");
  std::lock_guard lock(received().mu);
  EXPECT_EQ(received().transcription.file.view(), "RIFFxxxxWAVE\r\n\r\n--");
  EXPECT_EQ(received().transcription.options.language, "en");
  EXPECT_EQ(received().transcription.options.prompt, "Line1\r\nLine2");  // the form's line ends
  EXPECT_DOUBLE_EQ(received().transcription.options.temperature, 0.2);
  EXPECT_TRUE(received().transcription.options.word_timestamps);
}

TEST_F(AudioApiTest, AnswersInEveryResponseFormat) {
  auto ask = [&](std::string_view format) {
    return transcribe(Form()
                          .file("FAKEWAV One.| Two.")
                          .field("model", "speech")
                          .field("response_format", format));
  };
  Reply r = ask("text");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, " One. Two.\n");
  r = ask("srt");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body,
            "1\n00:00:00,000 --> 00:00:01,500\nOne.\n\n2\n00:00:01,500 --> 00:00:03,000\nTwo.\n\n");
  r = ask("vtt");
  EXPECT_EQ(r.content_type, "text/vtt; charset=utf-8");
  EXPECT_EQ(
      r.body,
      "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nOne.\n\n00:00:01.500 --> 00:00:03.000\nTwo.\n\n");
  r = ask("verbose_json");
  EXPECT_EQ(r.content_type, "application/json");
  const json::object o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("task"), "transcribe");
  EXPECT_EQ(o.at("language"), "en");
  EXPECT_EQ(o.at("segments").as_array().size(), 2u);
  EXPECT_FALSE(o.contains("words"));  // not asked for
}

TEST_F(AudioApiTest, RefusesWhatItCannotDoNamingIt) {
  const std::string ok_file = "FAKEWAV hi";
  const std::uint16_t port = http_->port();
  // Not multipart at all, or without a boundary.
  expect_400(post(port, "/v1/audio/transcriptions", "application/json", "{\"model\":\"speech\"}"),
             "this endpoint takes multipart/form-data (the fields file, model, language, prompt, "
             "response_format, "
             "temperature, timestamp_granularities[], stream); the request's Content-Type is "
             "'application/json'");
  expect_400(post(port, "/v1/audio/transcriptions", "", "x"), "the request has no Content-Type");
  expect_400(post(port, "/v1/audio/transcriptions", "multipart/form-data",
                  Form().field("model", "speech").body()),
             "Content-Type multipart/form-data has no boundary parameter");
  // Malformed bodies.
  const Form form = Form().field("model", "speech").file(ok_file);
  std::string truncated = form.body();
  truncated.resize(truncated.size() - 10);
  expect_400(post(port, "/v1/audio/transcriptions", form.content_type(), truncated),
             "multipart part 2 is unterminated");
  expect_400(post(port, "/v1/audio/transcriptions", form.content_type(),
                  "--form-data-boundary-t3st0123456789ab\r\nContent-Type: text/plain\r\n\r\nx\r\n"
                  "--form-data-boundary-t3st0123456789ab--\r\n"),
             "multipart part 1 has no Content-Disposition header");
  // Fields missing, empty, repeated or unknown.
  expect_400(transcribe(Form().field("model", "speech")), "multipart body has no 'file' part");
  expect_400(transcribe(Form().field("model", "speech").file("")), "the 'file' part is empty");
  expect_400(transcribe(Form().file(ok_file)), "multipart body has no 'model' part");
  expect_400(transcribe(Form().file(ok_file).field("model", "")), "model: empty");
  expect_400(transcribe(Form().file(ok_file).field("model", "speech").field("model", "speech")),
             "multipart body has more than one 'model' part");
  expect_400(transcribe(Form().file(ok_file).file(ok_file).field("model", "speech")),
             "multipart body has more than one 'file' part");
  expect_400(
      transcribe(Form().file(ok_file).field("model", "speech").field("chunking_strategy", "auto")),
      "chunking_strategy: not supported by this server (the fields: file, model, language, prompt, "
      "response_format, temperature, timestamp_granularities[], stream)");
  expect_400(
      transcribe(
          Form().file(ok_file).field("model", "speech").field("timestamp_granularities", "word")),
      "timestamp_granularities: not supported by this server");
  expect_400(
      transcribe(Form().file(ok_file).field("model", "speech").field("include[]", "logprobs")),
      "include[]: not supported by this server");
  // Values out of range.
  expect_400(
      transcribe(Form().file(ok_file).field("model", "speech").field("response_format", "xml")),
      "response_format: 'xml' is not supported; supported: json, text, srt, verbose_json, vtt");
  expect_400(transcribe(Form().file(ok_file).field("model", "speech").field("temperature", "hot")),
             "temperature: expected a number in [0, 1], got 'hot'");
  expect_400(transcribe(Form().file(ok_file).field("model", "speech").field("temperature", "1.5")),
             "temperature: expected a number in [0, 1], got '1.5'");
  expect_400(transcribe(Form()
                            .file(ok_file)
                            .field("model", "speech")
                            .field("response_format", "verbose_json")
                            .field("timestamp_granularities[]", "character")),
             "timestamp_granularities[]: 'character' is not supported; supported: segment, word");
  // Timestamps need verbose_json, as OpenAI's API.
  expect_400(
      transcribe(
          Form().file(ok_file).field("model", "speech").field("timestamp_granularities[]", "word")),
      "timestamp_granularities[]: timestamps need response_format verbose_json (it is 'json')");
  expect_400(transcribe(Form()
                            .file(ok_file)
                            .field("model", "speech")
                            .field("response_format", "srt")
                            .field("timestamp_granularities[]", "segment")),
             "timestamps need response_format verbose_json (it is 'srt')");
  expect_400(transcribe(Form().file(ok_file).field("model", "speech").field("stream", "true")),
             "stream: not supported by this server (only false)");
  expect_400(transcribe(Form().file(ok_file).field("model", "speech").field("stream", "yes")),
             "stream: expected true or false, got 'yes'");
  // The model's own refusal of the file, with its message.
  expect_400(transcribe(Form().file("ID3 an mp3? no").field("model", "speech")),
             "not audio: the file's first bytes are no audio format this model reads");
  // A model that does not transcribe.
  expect_400(transcribe(Form().file(ok_file).field("model", "tensors")),
             "model 'tensors' does not support transcribe");
  // The metrics count the model's refusal as an error; the server's own
  // refusals of the request never reached the model.
  bool counted = false;
  for (const OutcomeCount& c : speech_model().metrics.outcomes()) {
    if (c.outcome == Outcome::kError && c.code == 400) counted = c.count == 1;
  }
  EXPECT_TRUE(counted);
}

TEST_F(AudioApiTest, AnUnknownModelIsA404AndOtherMethodsA405) {
  Reply r = transcribe(Form().file("FAKEWAV hi").field("model", "whisper-1"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_message(), "model 'whisper-1' is not loaded (see GET /v1/models)");
  r = speak(R"({"model":"tts-1","input":"hi","voice":"alloy"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_message(), "model 'tts-1' is not loaded (see GET /v1/models)");
  r = exchange_raw(http_->port(),
                   "GET /v1/audio/speech HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.error_message(), "method GET not allowed on /v1/audio/speech");
}

TEST_F(AudioApiTest, SpeaksWithTheFormatsContentType) {
  Reply r = speak(R"({"model":"speech","input":"Hello","voice":"alloy"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "audio/mpeg");  // mp3, OpenAI's default
  EXPECT_EQ(r.body, "mp3|alloy|1|Hello");
  const std::pair<std::string_view, std::string_view> formats[] = {{"wav", "audio/wav"},
                                                                   {"pcm", "audio/pcm"},
                                                                   {"mp3", "audio/mpeg"},
                                                                   {"opus", "audio/ogg"},
                                                                   {"flac", "audio/flac"}};
  for (const auto& [format, content_type] : formats) {
    r = speak(R"({"model":"speech","input":"Hi","response_format":")" + std::string(format) +
              R"(","speed":2.5,"voice":null})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, content_type) << format;
    EXPECT_EQ(r.body, std::string(format) + "||2.5|Hi");
  }
  // Characters, not bytes: 4096 two-byte characters are allowed.
  std::string input;
  for (int i = 0; i < 4096; ++i) input += "\xC3\xA9";
  r = speak(R"({"model":"speech","input":")" + input + R"("})");
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 200);
  std::lock_guard lock(received().mu);
  EXPECT_EQ(received().speech.text, input);
}

TEST_F(AudioApiTest, SpeechRefusesWhatItCannotDoNamingIt) {
  expect_400(speak(R"({"model":"speech","input":"hi","instructions":"whisper"})"),
             "instructions: not supported by this server");
  expect_400(speak(R"({"model":"speech","voice":"alloy"})"), "input: required");
  expect_400(speak(R"({"model":"speech","input":""})"), "input: empty: there is nothing to say");
  expect_400(speak(R"({"model":"speech","input":" \n "})"),
             "input: empty: there is nothing to say");
  expect_400(speak(R"({"model":"speech","input":7})"), "input: expected a string");
  expect_400(speak(R"({"model":"speech","input":")" + std::string(4097, 'a') + R"("})"),
             "input: 4097 characters; at most 4096 are allowed");
  expect_400(speak(R"({"model":"speech","input":"hi","response_format":"aac"})"),
             "unknown response_format 'aac'; supported: wav, pcm, mp3, opus, flac");
  expect_400(speak(R"({"model":"speech","input":"hi","speed":5})"),
             "speed: expected a number in [0.25, 4], got 5");
  expect_400(speak(R"({"model":"speech","input":"hi","speed":0.1})"),
             "speed: expected a number in [0.25, 4], got 0.1");
  expect_400(speak(R"({"model":"speech","input":"hi","voice":{"id":"x"}})"),
             "voice: expected a string");
  expect_400(speak(R"({"input":"hi"})"), "model: required");
  expect_400(speak(R"({"model":"speech","input":)"), "body is not valid JSON");
  expect_400(speak(R"({"model":"tensors","input":"hi"})"),
             "model 'tensors' does not support speak");
}

TEST_F(AudioApiTest, TheUploadLimitIsTheAudioOneOnTheTranscriptionRouteOnly) {
  // Over the server's 64 KiB, under the audio upload's 1 MiB: served.
  const std::string big = "FAKEWAV " + std::string(200 * 1024, 'a');
  Reply r = transcribe(Form().file(big).field("model", "speech"));
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
  {
    std::lock_guard lock(received().mu);
    EXPECT_EQ(received().transcription.file.view(), big);
  }
  // The same size elsewhere: the server's limit.
  r = speak(R"({"model":"speech","input":")" + std::string(200 * 1024, 'a') + R"("})");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.error_message(), "request body over the limit of 65536 bytes");
  // Over 1 MiB: refused naming the setting, from the announced length alone
  // (the body is not sent: the client asked to continue first).
  const std::string over = "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: t\r\nContent-Type: " +
                           Form().content_type() +
                           "\r\nContent-Length: " + std::to_string((1 << 20) + 1) +
                           "\r\nExpect: 100-continue\r\n\r\n";
  r = exchange_raw(http_->port(), over);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.error_message(),
            "audio upload over the limit of 1 MiB (the [server] setting max_audio_upload_mb)");
  // A chunked body counts its chunks against the same limit.
  std::string chunked = "POST /v1/audio/transcriptions HTTP/1.1\r\nHost: t\r\nContent-Type: " +
                        Form().content_type() + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(256 * 1024, 'x');
  for (int i = 0; i < 5; ++i) chunked += "40000\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  r = exchange_raw(http_->port(), chunked);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.error_message(),
            "audio upload over the limit of 1 MiB (the [server] setting max_audio_upload_mb)");
  // Exactly the limit is allowed.
  Form exact;
  exact.field("model", "speech");
  const std::size_t overhead = Form().field("model", "speech").file("").body().size();
  exact.file("FAKEWAV " + std::string((1 << 20) - overhead - 8, 'b'));
  ASSERT_EQ(exact.body().size(), 1u << 20);
  r = transcribe(exact);
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
}

TEST_F(AudioApiTest, RecordsMetricsAndTheModelInTheAccessLog) {
  ASSERT_EQ(transcribe(Form().file("FAKEWAV hi").field("model", "speech")).status, 200);
  ASSERT_EQ(speak(R"({"model":"speech","input":"hi"})").status, 200);
  EXPECT_EQ(noted_model(1), "speech");
  EXPECT_EQ(noted_model(2), "speech");
  ModelMetrics& m = speech_model().metrics;
  const std::vector<OutcomeCount> outcomes = m.outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].outcome, Outcome::kOk);
  EXPECT_EQ(outcomes[0].code, 200);
  EXPECT_EQ(outcomes[0].count, 2u);
  EXPECT_EQ(m.queue_wait.snapshot().count, 2u);
  EXPECT_EQ(m.inference.snapshot().count, 2u);
  EXPECT_EQ(m.request_duration.snapshot().count, 2u);
}

TEST_F(AudioApiTest, ADeadlinePassedWhileQueuedOrRunningIsA504) {
  // The one instance is held past timeout_ms (300 ms) by a run that does
  // not stop in time; the second request waits past its deadline.
  Reply held;
  std::thread holder([&] { held = transcribe(Form().file("FAKEWAV STUCK").field("model", "speech")); });
  while (speech_model().model().stats().pool.busy == 0) std::this_thread::sleep_for(1ms);
  const auto start = Clock::now();
  const Reply r = speak(R"({"model":"speech","input":"hi"})");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_TRUE(contains(r.body, R"("type":"timeout_error")")) << r.body;
  EXPECT_LT(Clock::now() - start, 3s);
  holder.join();
  EXPECT_EQ(held.status, 504) << held.body;
  EXPECT_TRUE(contains(held.body, "deadline passed while model 'speech' ran the request")) << held.body;
  std::uint64_t timed_out = 0;
  for (const OutcomeCount& c : speech_model().metrics.outcomes()) {
    if (c.outcome == Outcome::kTimeout && c.code == 504) timed_out = c.count;
  }
  EXPECT_EQ(timed_out, 2u);

  // A run that stops when told ends at its deadline, and its instance
  // serves the next request at once.
  const auto slow_start = Clock::now();
  const Reply slow = transcribe(Form().file("FAKEWAV SLOW").field("model", "speech"));
  EXPECT_EQ(slow.status, 504) << slow.body;
  EXPECT_LT(Clock::now() - slow_start, 2s);
  EXPECT_EQ(speak(R"({"model":"speech","input":"hi"})").status, 200);
}

TEST_F(AudioApiTest, OutputsTheRouteCannotReadAreA500CountedAsAnError) {
  const Reply r = transcribe(Form().file("FAKEWAV NO TEXT").field("model", "speech"));
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(r.error_message(), "the model returned no 'text' output");
  const std::vector<OutcomeCount> outcomes = speech_model().metrics.outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].outcome, Outcome::kError);
  EXPECT_EQ(outcomes[0].code, 500);
}

}  // namespace
}  // namespace modelpool::server
