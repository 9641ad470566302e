// Api: the HTTP endpoints, mapped onto the ModelManager.
//
//   OpenAI:  GET /v1/models, /v1/models/{m}, POST /v1/completions,
//            POST /v1/chat/completions (see openai_request.h for the fields),
//            POST /v1/audio/transcriptions, POST /v1/audio/speech (below)
//   llama-server: GET /health (200 {"status":"ok"} once every model is
//            loaded, 503 "Loading model" before)
//   KServe:  GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{m},
//            /v2/models/{m}/ready, POST /v2/models/{m}/infer (each model
//            route also under /v2/models/{m}/versions/1/...; the only
//            version is "1", another is a 404 naming it),
//            POST /v2/repository/index, /v2/repository/models/{m}/load|unload,
//            Triton's system shared memory (below):
//            GET /v2/systemsharedmemory[/region/{r}]/status,
//            POST /v2/systemsharedmemory/region/{r}/register,
//            POST /v2/systemsharedmemory[/region/{r}]/unregister
//   GET /metrics (Prometheus text; families in metrics_snapshot.h)
//   GET /metrics.json: the same snapshot as JSON, every number as /metrics
//            has it:
//     {"process": {"pss_bytes": N | null},      // null: not read yet
//      "registry": {"loads": N, "hits": N},     // weights loaded; shared instead
//      "models": {"NAME": {                     // the ready models
//        "requests": [{"outcome": "ok", "code": 200, "count": N}, ...],
//        "tokens_generated": N, "prompt_tokens": N, "stream_overflows": N,
//        "queue_length": N,
//        "instances": {"creating": N, "idle": N, "busy": N, "checking": N,
//                      "broken": N},
//        "kv_cache": {"used_cells": N, "cells": N} | null,  // null: not a text model
//        "prefix_cache": {"hit_tokens": N, "miss_tokens": N, "evictions": N,
//                         "tokens": N, "bytes": N, "max_tokens": N,
//                         "max_bytes": N} | null,  // null: none (or not a text model)
//        "memory": {"weights_bytes": N, "instance_bytes": N},
//        "histograms": {"queue_wait_seconds" | "inference_duration_seconds" |
//                       "request_duration_seconds" | "time_to_first_token_seconds" |
//                       "time_per_output_token_seconds":
//          {"le": [0.001, ..., 60], "counts": [cumulative, one per bound],
//           "count": N, "sum": seconds}}}}}
//
// Streams: a client that stops reading an SSE stream while more than
// stream_buffer_bytes ([server]) wait for it has its generation cancelled
// (within one step; the slot frees) and its connection closed; the request
// counts as cancelled/499 and in modelpool_stream_overflows_total.
//
// Audio (audio_api.cc; the fields in audio_request.h). Each runs as one
// kInfer request of the speech contract (modelpool/speech.h) on a model that
// declares the capability (kTranscribe, kSpeak; otherwise 400 naming the
// model and what it cannot do), with the model's timeout_ms as its deadline,
// counted in the model's metrics like a KServe infer.
//   transcriptions  multipart/form-data with the audio file; the answer is
//              the transcript in response_format (transcript_format.h):
//              json and verbose_json as application/json, text and srt as
//              text/plain, vtt as text/vtt. The body may hold up to
//              ApiOptions::max_audio_upload_mb MiB ([server]
//              max_audio_upload_mb, default 25 as OpenAI's): more gets 413
//              naming the limit, before the body is read.
//   speech     JSON; the answer is the audio, whole, with its format's
//              content type (audio/mpeg for mp3, audio/wav, ...).
// A file the model cannot read ("not audio: ...") and every field the server
// does not implement are 400s with the message naming it.
//
// KServe inference takes JSON tensors, and Triton's binary tensor data
// extension (binary_tensor_data, listed in GET /v2's "extensions"): with
// `Inference-Header-Content-Length: N` the body is N bytes of JSON, then the
// bytes of each input with "parameters": {"binary_data_size": K}, in input
// order; those inputs view the request body (no copy). Outputs come back as
// binary, after the JSON header, when the request parameter
// "binary_data_output" or an output's "binary_data" says so (then
// application/octet-stream with Inference-Header-Content-Length); "outputs"
// also selects which outputs come back. Sizes that do not add up and
// parameters this server does not implement (classification) are 400s naming
// them. binary_tensors.h has the rules.
//
// Client shared memory (Triton's system_shared_memory extension), only with
// ApiOptions::allow_client_shm (serve --allow-client-shm); otherwise
// register and unregister answer 501 saying how to enable it, status lists
// nothing and infer refuses shared-memory parameters (400).
//   register   body {"key": "/shm_name", "offset": N (default 0),
//              "byte_size": N}: maps the range of the client's POSIX shm
//              object (shm_regions.h). 200 with an empty body (as
//              Triton); 400 bad or missing field
//              (named), name already registered, range past the object's
//              end; 500 the object cannot be opened (as Triton).
//   unregister one region or, without a name, all; an unknown name is a
//              no-op (200, empty, as Triton). A region in use by a request is
//              unmapped when that request ends.
//   status     200 [{"name", "key", "offset", "byte_size"}, ...]; a named
//              region that is not registered: 404.
// Infer inputs and outputs name regions with the parameters
// shared_memory_region, shared_memory_offset, shared_memory_byte_size
// (tensor_json.h, binary_tensors.h); an input's data views the mapping (no
// copy), an output is copied into it once. "system_shared_memory" is listed
// in GET /v2's "extensions" when it is on.
//
// Errors name the bad field or value, in each API's shape (ErrorFormat in
// exchange.h): on /v2 KServe's {"error": "message"}, elsewhere OpenAI's
// {"error": {"message", "type", "code"}}. 400 bad JSON or fields (KServe
// tensors: a value out of its datatype's range, a shape that overflows; see
// tensor_json.h and binary_tensors.h), 401 API key, 404 model, version or route, 405 method,
// 413 body too large (max_body_bytes; an audio upload: max_audio_upload_mb), 429 queue full
// (Retry-After), 503 not ready or shutting down, 504 deadline passed. With an API key configured,
// every endpoint but /health, /v2/health/*, /metrics, /metrics.json, / and the dashboard's page and
// files needs "Authorization: Bearer KEY" (401 "missing API key" or "wrong API key" otherwise).
//
// Dashboard (dashboard.cc; the page is src/server/dashboard/, embedded in the
// binary at build time):
//   GET /      302 to /dashboard
//   GET /dashboard, /dashboard/dashboard.js, /dashboard/dashboard.css: the
//              page, open to anyone (it holds no data); with the API key set
//              it asks for the key and sends it as a Bearer token.
//   GET /dashboard.json: what the page draws, polled twice a second:
//              /metrics.json's document plus "time_ms" and, per model,
//              "instance_list" (each instance or batch slot: id, state,
//              label such as "pid 1234") and "recent_errors" (time, HTTP
//              code, message). It needs the API key when one is set: the
//              error messages may quote requests. /metrics and /metrics.json
//              stay open and unchanged for scrapers (counts, no messages);
//              the detail lives only behind the key, in its own endpoint,
//              so a document's shape never depends on who asked.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "modelpool/memory.h"
#include "server/binary_tensors.h"
#include "server/exchange.h"
#include "server/handler_pool.h"
#include "server/metrics_snapshot.h"
#include "server/model_manager.h"
#include "server/shm_regions.h"

namespace modelpool::server {

struct ApiOptions {
  std::string api_key;
  // A batched decoding loop with work that has not stepped for this long
  // makes /v2/health/live answer 503.
  std::chrono::milliseconds stall_threshold{10000};
  // Most threads running handlers that block (ServerConfig::handler_threads,
  // default_handler_threads).
  std::size_t handler_threads = 16;
  // Serve client shared memory (see above); off: 501 on register.
  bool allow_client_shm = false;
  // The body limit of POST /v1/audio/transcriptions, in MiB.
  std::size_t max_audio_upload_mb = 25;
};

class Api {
 public:
  Api(ModelManager& models, ApiOptions options);
  // Waits for the handlers queued or running (bounded by their models'
  // shutdown, which wakes them) and joins their threads.
  ~Api() = default;

  // Routes one request. Called on an I/O thread: anything that may block
  // moves to a handler thread (ApiOptions::handler_threads at most).
  void handle(std::shared_ptr<Exchange> ex);

  // The body limit of `request`, from its request line and headers
  // (HttpOptions::body_limit): an audio upload's for POST
  // /v1/audio/transcriptions with the API key (when one is set), else the
  // server's default. Cheap; called on an I/O thread.
  BodyLimit body_limit(const HttpRequest& request) const;

  // From now on readiness (/v2/health/ready, /health, a model's ready)
  // answers 503, while requests are still served (drain_delay_ms).
  void set_leaving() { leaving_ = true; }
  // From now on new inference requests get 503 too.
  void set_draining() {
    leaving_ = true;
    draining_ = true;
  }
  bool draining() const { return draining_; }
  // Handlers queued or running now.
  std::size_t busy_handlers() const { return handlers_.busy(); }
  // Waits until no handler runs (bounded by the models' shutdown, which
  // wakes them).
  void wait_idle() { handlers_.wait_idle(); }
  // Requests ended because the server cut them off at its drain deadline
  // (a 503, or a stream's error event and [DONE]).
  std::uint64_t cut_off_requests() const { return cut_off_.load(); }
  // Whether the scheduler loops are alive (see ApiOptions::stall_threshold).
  bool live() const;
  // Every ready model's metrics and the process's memory, read now (the
  // PSS is the sampler's latest, at most a second old).
  MetricsSnapshot metrics_snapshot() const;

  ModelManager& models() { return models_; }

 private:
  // Whether `request` carries the API key, or none is needed.
  bool authorized(const HttpRequest& request) const;
  // Runs `fn` on a handler thread (HandlerPool: bounded, FIFO beyond the
  // bound), counted so shutdown can wait for it.
  void offload(std::function<void()> fn) { handlers_.submit(std::move(fn)); }

  void completions(std::shared_ptr<Exchange> ex, bool chat);
  void list_models(Exchange& ex);
  void retrieve_model(Exchange& ex, const std::string& id);
  void health(Exchange& ex);
  void kserve(std::shared_ptr<Exchange> ex, const std::string& path);
  // One KServe inference: the request as parsed, and when it arrived.
  struct InferCall {
    Request request;
    OutputChoice outputs;  // which outputs, and which of them binary
    Deadline deadline;
    Clock::time_point arrived;
  };
  // Parses an infer body for `model` (null: 404 naming `name`, after the
  // body's own errors); an error is answered and nullopt returned.
  std::optional<InferCall> parse_infer(Exchange& ex, const std::string& name, ServedModel* model);
  // Runs `call` on `model` (waiting for an instance) and answers.
  void infer(std::shared_ptr<Exchange> ex, std::shared_ptr<ServedModel> model, InferCall call);
  // Answers an inference that ended with `result`.
  void answer_infer(Exchange& ex, ServedModel& model, const InferCall& call, Result<InferStats> result,
                    CollectSink& sink);
  // Ends a kInfer request to `model` that arrived at `arrived` and whose run
  // ended with `result`: records its latencies (queue wait, inference,
  // request duration; a generation's tokens and timings instead) and its
  // access note, and counts its outcome as `status` (the run's, or what went
  // wrong after it, such as outputs the route cannot read). Returns the
  // status to answer: `status`, or cut_off_error() when the server cut the
  // request off.
  Status finish_infer(Exchange& ex, ServedModel& model, Clock::time_point arrived,
                      const Result<InferStats>& result, Status status);
  // POST /v1/audio/transcriptions and /v1/audio/speech (audio_api.cc), on a
  // handler thread; `arrived`: when the route took the request.
  void transcribe(Exchange& ex, Clock::time_point arrived);
  void speak(Exchange& ex, Clock::time_point arrived);
  void repository(std::shared_ptr<Exchange> ex, const std::string& path);
  // /v2/systemsharedmemory/... (shm_api.cc).
  void system_shared_memory(std::shared_ptr<Exchange> ex, const std::string& path);
  // The regions infer may use: null when client shared memory is off.
  const ShmRegistry* shm_regions() const { return options_.allow_client_shm ? &shm_regions_ : nullptr; }
  // Counts how the request to `model` that ended with `status` ended for its
  // client (model metrics, and the cut-off count).
  Outcome account(ServedModel& model, const Exchange& ex, const Status& status);
  // Answers a request that arrived while draining with 503, counted rejected.
  void refuse_draining(ServedModel& model, Exchange& ex);
  // GET /metrics (Prometheus text) or, with `json`, GET /metrics.json.
  void metrics(Exchange& ex, bool json);
  // GET / (302 to /dashboard) and the dashboard's embedded files
  // (dashboard.cc); false when `path` is none of them.
  bool dashboard_file(Exchange& ex, std::string_view path);
  // GET /dashboard.json: the metrics snapshot with the dashboard's detail.
  void dashboard_json(Exchange& ex);

  ModelManager& models_;
  const ApiOptions options_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> leaving_{false};  // readiness only; set with draining_ too
  std::atomic<std::uint64_t> cut_off_{0};
  // The process's PSS, read every second on the sampler's own thread:
  // reading smaps_rollup walks every mapping, too slow for an I/O thread.
  PssSampler pss_{std::chrono::seconds(1)};
  // The clients' registered shared-memory regions (empty unless
  // allow_client_shm). Destroyed after handlers_, so no request in flight
  // still uses it; a mapping a request holds lives until the request ends.
  ShmRegistry shm_regions_;
  // Last: destroyed first, so its jobs finish while the rest still lives.
  HandlerPool handlers_;
};

// Each API answers errors in its own shape (the status codes are the same):
//   kOpenAI  {"error": {"message": ..., "type": ..., "code": ...}}  (/v1, and
//            any path that is not KServe's)
//   kKServe  {"error": "message"}  (/v2 and below: the KServe v2 / Triton
//            REST protocol's inference error response)
enum class ErrorFormat { kOpenAI, kKServe };

// The format of the API that serves `target` (a request target; a query is
// ignored): kKServe for /v2 and /v2/..., kOpenAI otherwise.
ErrorFormat error_format_of(std::string_view target);

// The error body in `format`; kKServe has no place for `type` and `code`.
// Bytes of `message` that are not UTF-8 (a quoted request target, header
// or form field) are written as U+FFFD, so the body is always JSON.
std::string error_body(ErrorFormat format, std::string_view message, std::string_view type, int code);
// The error body for an error the HTTP layer answers itself (HttpOptions::
// error_body): KServe's {"error": "message"} on /v2 routes, OpenAI's shape
// elsewhere.
std::string http_error_body(std::string_view target, std::string_view message, int code);

// The error a request cut off at the drain deadline ends with (503).
Status cut_off_error();

// HTTP status for a Status code (timeout → 504, queue_full → 429, ...).
http::status http_status_of(StatusCode code);
// The OpenAI-style error type for a Status code.
std::string_view error_type_of(StatusCode code);
// Answers `ex` with the error JSON for `status`, in the format of the API
// its target belongs to (error_format_of).
void respond_error(Exchange& ex, const Status& status);

// The method a request is routed by: HEAD is routed as GET (the HTTP layer
// drops the body).
http::verb routed_method(const HttpRequest& request);

// 405 naming the request's method and `path`, with Allow: `allowed`.
void respond_method_not_allowed(Exchange& ex, std::string_view path, std::string_view allowed);

}  // namespace modelpool::server
