// Api: the HTTP endpoints, mapped onto the ModelManager.
//
//   OpenAI:  GET /v1/models, /v1/models/{m}, POST /v1/completions,
//            POST /v1/chat/completions (see openai_request.h for the fields)
//   llama-server: GET /health (200 {"status":"ok"} once every model is
//            loaded, 503 "Loading model" before)
//   KServe:  GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{m},
//            /v2/models/{m}/ready, POST /v2/models/{m}/infer (each model
//            route also under /v2/models/{m}/versions/1/...; the only
//            version is "1", another is a 404 naming it),
//            POST /v2/repository/index, /v2/repository/models/{m}/load|unload
//   GET /metrics (Prometheus text)
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
// parameters this server does not implement (shared memory,
// classification) are 400s naming them. binary_tensors.h has the rules.
//
// Errors name the bad field or value, in each API's shape (ErrorFormat in
// exchange.h): on /v2 KServe's {"error": "message"}, elsewhere OpenAI's
// {"error": {"message", "type", "code"}}. 400 bad JSON or fields (KServe
// tensors: a value out of its datatype's range, a shape that overflows; see
// tensor_json.h and binary_tensors.h), 401 API key, 404 model, version or route, 405 method,
// 413 body too large, 429 queue full (Retry-After), 503 not ready or
// shutting down, 504 deadline passed. With an API key configured, every
// endpoint but /health, /v2/health/* and /metrics needs "Authorization:
// Bearer KEY".
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "server/exchange.h"
#include "server/model_manager.h"

namespace modelpool::server {

struct ApiOptions {
  std::string api_key;
  // A batched decoding loop with work that has not stepped for this long
  // makes /v2/health/live answer 503.
  std::chrono::milliseconds stall_threshold{10000};
};

class Api {
 public:
  Api(ModelManager& models, ApiOptions options);
  // Waits for the handler threads still running (bounded by their models'
  // shutdown, which wakes them).
  ~Api();

  // Routes one request. Called on an I/O thread: anything that may block
  // moves to its own thread.
  void handle(std::shared_ptr<Exchange> ex);

  // From now on new inference requests get 503.
  void set_draining() { draining_ = true; }
  bool draining() const { return draining_; }
  // Handler threads running now.
  std::size_t busy_handlers() const;
  // Waits until no handler runs (bounded by the models' shutdown, which
  // wakes them).
  void wait_idle();
  // Requests ended because the server cut them off at its drain deadline
  // (a 503, or a stream's error event and [DONE]).
  std::uint64_t cut_off_requests() const { return cut_off_.load(); }
  // Whether the scheduler loops are alive (see ApiOptions::stall_threshold).
  bool live() const;

  ModelManager& models() { return models_; }

 private:
  // Runs `fn` on its own thread, counted so shutdown can wait for it.
  void offload(std::function<void()> fn);

  void completions(std::shared_ptr<Exchange> ex, bool chat);
  void list_models(Exchange& ex);
  void retrieve_model(Exchange& ex, const std::string& id);
  void health(Exchange& ex);
  void kserve(std::shared_ptr<Exchange> ex, const std::string& path);
  // Parses, runs and answers one inference on `model` (null: 404 naming
  // `name`); with `lease` it runs on that instance instead of queueing.
  void infer(std::shared_ptr<Exchange> ex, const std::string& name,
             std::shared_ptr<ServedModel> model, std::optional<Lease> lease = {});
  // An idle instance of `model` for running the request on the calling I/O
  // thread, when that costs less than the hand-off to a worker: a small body
  // and an instance whose run() is quick (Instance::quick). nullopt: hand off.
  std::optional<Lease> inline_lease(const Exchange& ex, ServedModel* model);
  void repository(std::shared_ptr<Exchange> ex, const std::string& path);
  // Counts how the request to `model` that ended with `status` ended for its
  // client (model metrics, and the cut-off count).
  Outcome account(ServedModel& model, const Exchange& ex, const Status& status);
  // Answers a request that arrived while draining with 503, counted rejected.
  void refuse_draining(ServedModel& model, Exchange& ex);
  void metrics(Exchange& ex);

  ModelManager& models_;
  const ApiOptions options_;
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> cut_off_{0};
  // A cached thread pool: a handler runs on an idle worker, or on a new one
  // when none is idle (handlers block for a whole generation, so the pool
  // never queues them); workers idle for a while exit.
  void worker_loop();

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;   // handlers_ reached 0
  std::condition_variable work_cv_;   // a job was queued
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  std::size_t handlers_ = 0;          // jobs queued or running; guarded by mu_
  std::size_t idle_workers_ = 0;      // guarded by mu_
  std::size_t workers_ = 0;           // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
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
