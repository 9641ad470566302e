#include "backends/tts/tts_backend.h"

#include <memory>
#include <string>
#include <utility>

#include "audio/audio.h"
#include "backends/tts/engine.h"
#include "backends/tts/espeak_engine.h"
#include "backends/tts/flite_engine.h"
#include "modelpool/speech.h"

namespace modelpool::tts {

std::size_t count_characters(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // not a continuation byte
  return n;
}

namespace {

constexpr const char* kFlite = "flite";
constexpr const char* kEspeak = "espeak-ng";
// Said by warmup(): short, but through every stage of the engine.
constexpr const char* kWarmupText = "Hello.";

const BackendInfo& tts_info() {
  static const BackendInfo info{
      "tts",
      "text to speech: flite (English voices, in threads) or espeak-ng (100+ languages, in worker processes)",
      Capability::kInfer | Capability::kSpeak,
      /*needs_path=*/false,
      /*batching=*/false,
      {
          OptionSpec::choice("engine", {kFlite, kEspeak}, kFlite,
                             "`flite` (English, thread-safe) or `espeak-ng` (needs isolation `process`)"),
          OptionSpec::string("voice", "",
                             "the default voice (empty: `slt` for flite, `en-us` for espeak-ng); flite: "
                             "kal, kal16, slt, rms, awb; espeak-ng: any language or voice it knows"),
          OptionSpec::integer("max_characters", 1, 1'000'000, "4096",
                              "longer input text is refused (400), naming the limit"),
      }};
  return info;
}

class TtsWeights final : public Weights {
 public:
  explicit TtsWeights(TtsConfig config) : config(std::move(config)) {}
  // The voices' data lives in the engines' libraries (flite) or data files
  // (espeak-ng), mapped read-only and shared through the page cache: no
  // memory of its own.
  std::size_t bytes() const override { return 0; }

  const TtsConfig config;
};

class TtsInstance final : public Instance {
 public:
  TtsInstance(std::shared_ptr<const TtsWeights> weights, std::unique_ptr<Engine> engine)
      : weights_(std::move(weights)), engine_(std::move(engine)) {}

  // Nothing is kept between runs: a run's utterance and samples are freed
  // when it returns.
  std::size_t bytes() const override { return sizeof(*this); }

  Status warmup() override {
    auto pcm = engine_->synthesize(kWarmupText, weights_->config.voice, 1.0, {});
    if (!pcm.ok()) return pcm.status();
    return audio::encode(*pcm, "wav").status();
  }

  Status run(const Request& request, Sink& sink, std::stop_token stop) override {
    Result<speech::SpeechInput> in = speech::read_speech(request);
    if (!in.ok()) return in.status();
    const TtsConfig& c = weights_->config;
    if (const std::size_t n = count_characters(in->text); n > c.max_characters) {
      return invalid_argument_error("input 'text' is " + std::to_string(n) + " characters; the limit is " +
                                    std::to_string(c.max_characters));
    }
    const std::string& voice = in->options.voice.empty() ? c.voice : in->options.voice;
    if (Status s = engine_->check_voice(voice); !s.ok()) return s;
    Result<audio::Pcm> pcm = engine_->synthesize(in->text, voice, in->options.speed, stop);
    if (!pcm.ok()) return pcm.status();
    if (stop.stop_requested()) return cancelled_error("tts: run stopped");
    Result<std::string> encoded = audio::encode(*pcm, in->options.format);
    if (!encoded.ok()) return encoded.status();
    const int rate = audio::encoded_rate(pcm->sample_rate, in->options.format);
    for (Tensor& t : speech::speech_outputs({std::move(*encoded), rate})) {
      if (!sink.write(std::move(t))) return cancelled_error("tts: consumer gone");
    }
    return {};
  }

 private:
  const std::shared_ptr<const TtsWeights> weights_;
  const std::unique_ptr<Engine> engine_;
};

Result<std::unique_ptr<Engine>> make_engine(const TtsConfig& config) {
  if (config.engine == kFlite) return std::unique_ptr<Engine>(std::make_unique<FliteEngine>());
  auto espeak = EspeakEngine::create();
  if (!espeak.ok()) return espeak.status();
  return std::unique_ptr<Engine>(std::move(*espeak));
}

}  // namespace

Result<TtsConfig> TtsConfig::from_options(const ModelSpec& spec) {
  auto v = resolve(tts_info().options, spec.options, "tts model '" + spec.name + "'");
  if (!v.ok()) return v.status();
  TtsConfig c;
  c.engine = v->string("engine");
  c.voice = v->string("voice");
  if (c.voice.empty()) c.voice = c.engine == kFlite ? "slt" : "en-us";
  c.max_characters = static_cast<std::size_t>(v->integer("max_characters"));
  if (c.engine == kFlite) {
    if (Status s = FliteEngine().check_voice(c.voice); !s.ok()) {
      return invalid_argument_error("tts model '" + spec.name + "': option 'voice': " + s.message());
    }
  }
  return c;
}

const BackendInfo& TtsBackend::info() const { return tts_info(); }

Status TtsBackend::check(const ModelSpec& spec, const ServeOptions& serve) const {
  auto config = TtsConfig::from_options(spec);
  if (!config.ok()) return config.status();
  if (config->engine == kEspeak && serve.isolation != "process") {
    return invalid_argument_error(
        "tts model '" + spec.name +
        "': engine 'espeak-ng' keeps its state in process globals (one initialization, one voice and one "
        "synthesis at a time per process), so instances in one process cannot run side by side: it needs "
        "isolation = \"process\" (each worker process then holds one instance and synthesizes in parallel)");
  }
  return {};
}

Result<std::shared_ptr<const Weights>> TtsBackend::load(const ModelSpec& spec, const ProgressFn& progress) {
  auto config = TtsConfig::from_options(spec);
  if (!config.ok()) return config.status();
  if (config->engine == kFlite) {
    if (Status s = FliteEngine::preload(config->voice); !s.ok()) return s;
  } else {
    auto espeak = EspeakEngine::create();
    if (!espeak.ok()) return espeak.status();
    if (Status s = (*espeak)->check_voice(config->voice); !s.ok()) {
      return invalid_argument_error("tts model '" + spec.name + "': option 'voice': " + s.message());
    }
  }
  if (progress) progress(1.0);
  return std::shared_ptr<const Weights>(std::make_shared<const TtsWeights>(std::move(*config)));
}

Result<std::unique_ptr<Instance>> TtsBackend::instantiate(std::shared_ptr<const Weights> weights,
                                                          const ModelSpec& spec) {
  auto tts = std::dynamic_pointer_cast<const TtsWeights>(weights);
  if (!tts) return invalid_argument_error("tts model '" + spec.name + "': weights are not tts weights");
  auto engine = make_engine(tts->config);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<Instance>(std::make_unique<TtsInstance>(std::move(tts), std::move(*engine)));
}

}  // namespace modelpool::tts
