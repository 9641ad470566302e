#include "backends/stt/stt_instance.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <sstream>
#include <vector>

#include "audio/audio.h"
#include "backends/stt/timed_words.h"

namespace modelpool::stt {
namespace {

// "en-US" -> "en", lower case.
std::string primary_language(std::string_view tag) {
  std::string out(tag.substr(0, tag.find_first_of("-_")));
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string number_text(double d) {
  std::ostringstream s;
  s << d;
  return s.str();
}

}  // namespace

Status refuse_unsupported(const speech::TranscribeOptions& options, const SttConfig& config,
                          std::string_view model_name) {
  std::vector<std::string> refused;
  if (!options.prompt.empty()) {
    refused.push_back("parameter 'prompt' (pocketsphinx cannot be conditioned on earlier text; leave it out)");
  }
  if (options.temperature != 0) {
    refused.push_back("parameter 'temperature' = " + number_text(options.temperature) +
                      " (pocketsphinx's search is deterministic; only 0 is accepted)");
  }
  if (!options.language.empty() && primary_language(options.language) != primary_language(config.language)) {
    refused.push_back("parameter 'language' = '" + options.language + "' (this model transcribes '" +
                      config.language + "')");
  }
  if (refused.empty()) return {};
  std::string message = "stt model '" + std::string(model_name) + "' cannot honour ";
  for (std::size_t i = 0; i < refused.size(); ++i) message += (i == 0 ? "" : "; ") + refused[i];
  return invalid_argument_error(std::move(message));
}

SttInstance::SttInstance(std::shared_ptr<const SttWeights> weights, std::unique_ptr<Decoder> decoder)
    : weights_(std::move(weights)), decoder_(std::move(decoder)) {}

Status SttInstance::warmup() {
  std::vector<std::int16_t> noise(static_cast<std::size_t>(weights_->config.sample_rate / 2));
  std::uint32_t x = 0x2545f491u;
  for (std::int16_t& s : noise) {
    x = x * 1664525u + 1013904223u;  // an LCG is plenty for noise
    s = static_cast<std::int16_t>(static_cast<int>(x >> 25) - 64);  // [-64, 63]: about -54 dBFS
  }
  Result<Hypothesis> hyp = decoder_->decode(noise, {});
  return hyp.ok() ? Status{} : hyp.status();
}

Result<speech::Transcript> SttInstance::transcribe(const speech::AudioInput& input, std::stop_token stop) {
  const SttConfig& config = weights_->config;
  if (Status s = refuse_unsupported(input.options, config, weights_->model_name); !s.ok()) return s;
  const audio::DecodeLimits limits{.max_seconds = config.max_seconds};
  Result<audio::Pcm> pcm = input.sample_type.empty()
                               ? audio::decode(input.file.view(), limits)
                               : audio::from_samples(input.sample_type, input.samples.view(), input.sample_rate, limits);
  if (!pcm.ok()) return pcm.status();
  Result<audio::Pcm> at_model_rate = audio::resample(*pcm, config.sample_rate);
  if (!at_model_rate.ok()) return at_model_rate.status();
  const std::vector<std::int16_t> samples = audio::to_int16(*at_model_rate);

  Result<Hypothesis> hyp = decoder_->decode(samples, stop);
  if (!hyp.ok()) return hyp.status();
  TimedWords timed = timed_words(hyp->words, hyp->frame_rate);
  speech::Transcript t;
  t.text = std::move(hyp->text);
  t.language = config.language;
  t.duration = pcm->seconds();
  t.segments = std::move(timed.segments);
  if (input.options.word_timestamps) t.words = std::move(timed.words);
  return t;
}

Status SttInstance::run(const Request& request, Sink& sink, std::stop_token stop) {
  Result<speech::AudioInput> input = speech::read_transcription(request);
  if (!input.ok()) return input.status();
  Result<speech::Transcript> transcript = transcribe(*input, stop);
  if (!transcript.ok()) return transcript.status();
  for (Tensor& output : speech::transcript_outputs(*transcript)) {
    if (!sink.write(std::move(output))) return cancelled_error("transcription: the consumer is gone");
  }
  return {};
}

}  // namespace modelpool::stt
