// OpenAI's audio endpoints: transcription and speech, each one kInfer
// request of the speech contract (modelpool/speech.h), run and accounted as
// a KServe infer is (Api::finish_infer).
#include "server/api.h"
#include "server/audio_request.h"
#include "server/transcript_format.h"

namespace modelpool::server {
namespace {

Status model_not_loaded(const std::string& name) {
  return not_found_error("model '" + name + "' is not loaded (see GET /v1/models)");
}

Deadline deadline_of(const ServedModel& model, Clock::time_point arrived) {
  return arrived + std::chrono::milliseconds(model.config().timeout_ms);
}

}  // namespace

void Api::transcribe(Exchange& ex, Clock::time_point arrived) {
  Result<TranscriptionAsk> ask =
      parse_transcription_ask(ex.request()[http::field::content_type], ex.body());
  if (!ask.ok()) return respond_error(ex, ask.status());
  std::shared_ptr<ServedModel> model = models_.find(ask->model);
  if (!model) return respond_error(ex, model_not_loaded(ask->model));
  if (draining_) return refuse_draining(*model, ex);
  if (!model->can(Capability::kTranscribe)) {
    return respond_error(ex, missing_capability_error(ask->model, Capability::kTranscribe));
  }
  const Request request = speech::transcription_request(ask->file, ask->options);
  CollectSink sink;
  const Result<InferStats> run =
      model->model().infer(request, sink, deadline_of(*model, arrived), ex.stop());
  Result<speech::Transcript> transcript =
      run.ok() ? speech::read_transcript(sink.outputs) : run.status();
  if (Status s = finish_infer(ex, *model, arrived, run, transcript.status()); !s.ok())
    return respond_error(ex, s);
  RenderedTranscript answer =
      render_transcript(*transcript, ask->format, ask->options.word_timestamps);
  ex.respond(http::status::ok, std::move(answer.body), answer.content_type);
}

void Api::speak(Exchange& ex, Clock::time_point arrived) {
  Result<SpeechAsk> ask = parse_speech_ask(ex.body().view());
  if (!ask.ok()) return respond_error(ex, ask.status());
  std::shared_ptr<ServedModel> model = models_.find(ask->model);
  if (!model) return respond_error(ex, model_not_loaded(ask->model));
  if (draining_) return refuse_draining(*model, ex);
  if (!model->can(Capability::kSpeak)) {
    return respond_error(ex, missing_capability_error(ask->model, Capability::kSpeak));
  }
  const Request request = speech::speech_request(ask->input, ask->options);
  CollectSink sink;
  const Result<InferStats> run =
      model->model().infer(request, sink, deadline_of(*model, arrived), ex.stop());
  Result<speech::Speech> audio =
      run.ok() ? speech::read_speech_outputs(sink.outputs) : run.status();
  if (Status s = finish_infer(ex, *model, arrived, run, audio.status()); !s.ok())
    return respond_error(ex, s);
  ex.respond(http::status::ok, std::move(audio->audio), ask->content_type);
}

}  // namespace modelpool::server
