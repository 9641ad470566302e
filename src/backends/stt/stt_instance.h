// An stt instance: one decoder (decoder.h) over an stt model's shared
// weights (stt_weights.h), answering transcription requests (speech.h).
#pragma once

#include <cstddef>
#include <memory>
#include <stop_token>
#include <string_view>

#include "backends/stt/decoder.h"
#include "backends/stt/stt_config.h"
#include "backends/stt/stt_weights.h"
#include "modelpool/backend.h"
#include "modelpool/speech.h"

namespace modelpool::stt {

class SttInstance final : public Instance {
 public:
  SttInstance(std::shared_ptr<const SttWeights> weights, std::unique_ptr<Decoder> decoder);

  // The decoder's heap bytes, measured when it was created.
  std::size_t bytes() const override { return decoder_->bytes(); }
  // Decodes 0.5 s of low-level synthetic noise (pseudo-random, about
  // -54 dBFS) through the decoder: the front end, the acoustic scoring and
  // the search each run once, so the first real request does not pay their
  // first-run costs. It decodes to nothing and the output is dropped.
  Status warmup() override;
  // Reads a transcription (speech.h), refuses what pocketsphinx cannot
  // honour (a prompt, a temperature other than 0, another language) with
  // kInvalidArgument naming each, decodes the audio (kInvalidArgument for
  // bad audio or audio over max_seconds), resamples it to the model's rate
  // and decodes it, checking `stop` every 0.1 s of audio.
  Status run(const Request& request, Sink& sink, std::stop_token stop) override;

  // run() without the tensors: the transcript of `input`.
  Result<speech::Transcript> transcribe(const speech::AudioInput& input, std::stop_token stop);

 private:
  std::shared_ptr<const SttWeights> weights_;
  std::unique_ptr<Decoder> decoder_;
};

// kInvalidArgument naming every option of `options` the model cannot
// honour (see SttInstance::run); ok otherwise.
Status refuse_unsupported(const speech::TranscribeOptions& options, const SttConfig& config,
                          std::string_view model_name);

}  // namespace modelpool::stt
