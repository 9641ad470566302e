#include "server/api.h"

#include <boost/json.hpp>
#include <ctime>
#include <thread>

#include "server/utf8.h"

namespace modelpool::server {

ErrorFormat error_format_of(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/v2" || path.starts_with("/v2/") ? ErrorFormat::kKServe : ErrorFormat::kOpenAI;
}

std::string error_body(ErrorFormat format, std::string_view message, std::string_view type, int code) {
  // A message may quote what the client sent, in any bytes.
  const std::string text = valid_utf8(message);
  if (format == ErrorFormat::kKServe) return boost::json::serialize(boost::json::object{{"error", text}});
  boost::json::object inner{{"message", text}, {"type", type}, {"code", code}};
  return boost::json::serialize(boost::json::object{{"error", std::move(inner)}});
}

std::string http_error_body(std::string_view target, std::string_view message, int code) {
  return error_body(error_format_of(target), message,
                    code == 501 ? "not_implemented_error" : "invalid_request_error", code);
}

Status cut_off_error() {
  return shutting_down_error("the server is shutting down: the request was cut off at the drain deadline");
}

Outcome Api::account(ServedModel& model, const Exchange& ex, const Status& status) {
  const auto [outcome, code] = outcome_of(status, ex.stop_reason());
  model.metrics.count(outcome, code);
  // The dashboard's recent errors: what went wrong for a client, not a
  // client that left.
  if (outcome != Outcome::kOk && outcome != Outcome::kCancelled) {
    model.metrics.record_error(
        code, outcome == Outcome::kCutOff ? cut_off_error().message() : status.message());
  }
  if (ex.stop_reason() == StopReason::kSlowClient) ++model.metrics.stream_overflows;
  if (outcome == Outcome::kCutOff) ++cut_off_;
  return outcome;
}

void Api::refuse_draining(ServedModel& model, Exchange& ex) {
  const Status refused = shutting_down_error("the server is shutting down");
  account(model, ex, refused);
  respond_error(ex, refused);
}

http::status http_status_of(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return http::status::ok;
    case StatusCode::kTimeout: return http::status::gateway_timeout;
    case StatusCode::kCancelled: return static_cast<http::status>(499);  // client closed
    case StatusCode::kQueueFull: return http::status::too_many_requests;
    case StatusCode::kShuttingDown: return http::status::service_unavailable;
    case StatusCode::kModelFailed: return http::status::service_unavailable;
    case StatusCode::kInvalidArgument: return http::status::bad_request;
    case StatusCode::kNotFound: return http::status::not_found;
    case StatusCode::kInternal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

std::string_view error_type_of(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument: return "invalid_request_error";
    case StatusCode::kNotFound: return "not_found_error";
    case StatusCode::kQueueFull: return "rate_limit_error";
    case StatusCode::kTimeout: return "timeout_error";
    case StatusCode::kShuttingDown:
    case StatusCode::kModelFailed: return "unavailable_error";
    default: return "server_error";
  }
}

void respond_error(Exchange& ex, const Status& status) {
  const http::status code = http_status_of(status.code());
  const std::string body = error_body(error_format_of(ex.request().target()), status.message(),
                                      error_type_of(status.code()), static_cast<int>(code));
  if (status.code() == StatusCode::kQueueFull) {
    ex.respond(code, body, "application/json", {{"Retry-After", "1"}});
  } else {
    ex.respond(code, body);
  }
}

http::verb routed_method(const HttpRequest& request) {
  return request.method() == http::verb::head ? http::verb::get : request.method();
}

void respond_method_not_allowed(Exchange& ex, std::string_view path, std::string_view allowed) {
  const std::string message = "method " + std::string(ex.request().method_string()) +
                              " not allowed on " + std::string(path);
  ex.respond(http::status::method_not_allowed,
             error_body(error_format_of(ex.request().target()), message, "invalid_request_error", 405),
             "application/json", {{"Allow", std::string(allowed)}});
}

namespace {

// Compares in time independent of where the strings first differ.
bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

Api::Api(ModelManager& models, ApiOptions options)
    : models_(models), options_(std::move(options)), handlers_(options_.handler_threads) {}

bool Api::authorized(const HttpRequest& request) const {
  if (options_.api_key.empty()) return true;
  const std::string_view auth = request[http::field::authorization];
  const std::string_view prefix = "Bearer ";
  return starts_with(auth, prefix) &&
         constant_time_equal(auth.substr(prefix.size()), options_.api_key);
}

BodyLimit Api::body_limit(const HttpRequest& request) const {
  const std::string_view target = request.target();
  // Without the API key a client gets no more than any request may send
  // (its 401 does not need the upload).
  if (request.method() != http::verb::post ||
      target.substr(0, target.find('?')) != "/v1/audio/transcriptions" || !authorized(request)) {
    return {};
  }
  const std::size_t mb = options_.max_audio_upload_mb;
  return {mb << 20, "audio upload over the limit of " + std::to_string(mb) +
                        " MiB (the [server] setting max_audio_upload_mb)"};
}

bool Api::live() const {
  for (const auto& m : models_.ready_models()) {
    if (m->model().stats().stalled_for > options_.stall_threshold) return false;
  }
  return true;
}

void Api::handle(std::shared_ptr<Exchange> ex) {
  const HttpRequest& req = ex->request();
  std::string path(req.target());
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  const http::verb method = routed_method(req);
  auto only = [&](http::verb allowed) {
    if (method == allowed) return true;
    respond_method_not_allowed(*ex, path, allowed == http::verb::get ? "GET, HEAD" : http::to_string(allowed));
    return false;
  };

  // Open endpoints: health and metrics.
  if (path == "/v2/health/live") {
    if (!only(http::verb::get)) return;
    const bool ok = live();
    return ex->respond(ok ? http::status::ok : http::status::service_unavailable,
                       boost::json::serialize(boost::json::object{{"live", ok}}));
  }
  if (path == "/v2/health/ready") {
    if (!only(http::verb::get)) return;
    const bool ok = !leaving_ && models_.all_ready() && live();
    boost::json::object body{{"ready", ok}};
    if (!ok && !leaving_) {
      if (std::string why = models_.unready_reason(); !why.empty()) body["reason"] = why;
    }
    return ex->respond(ok ? http::status::ok : http::status::service_unavailable, boost::json::serialize(body));
  }
  if (path == "/health") {  // llama-server's
    if (!only(http::verb::get)) return;
    return health(*ex);
  }
  if (path == "/metrics" || path == "/metrics.json") {
    if (!only(http::verb::get)) return;
    return metrics(*ex, path == "/metrics.json");
  }
  // The dashboard's page and files: static, no data.
  if (path == "/" || path == "/dashboard" || starts_with(path, "/dashboard/")) {
    if (!only(http::verb::get)) return;
    if (!dashboard_file(*ex, path)) respond_error(*ex, not_found_error("no route " + path));
    return;
  }

  if (!authorized(req)) {
    return ex->respond(http::status::unauthorized,
                       error_body(error_format_of(path),
                                  req[http::field::authorization].empty()
                                      ? "missing API key (Authorization: Bearer KEY)"
                                      : "wrong API key",
                                  "authentication_error", 401),
                       "application/json", {{"WWW-Authenticate", "Bearer"}});
  }

  if (path == "/dashboard.json") {
    if (!only(http::verb::get)) return;
    return dashboard_json(*ex);
  }
  if (path == "/v1/models") {
    if (!only(http::verb::get)) return;
    return list_models(*ex);
  }
  if (starts_with(path, "/v1/models/")) {
    if (!only(http::verb::get)) return;
    return retrieve_model(*ex, path.substr(std::string_view("/v1/models/").size()));
  }
  if (path == "/v1/completions" || path == "/v1/chat/completions") {
    if (!only(http::verb::post)) return;
    const bool chat = path == "/v1/chat/completions";
    return offload([this, ex, chat] { completions(ex, chat); });
  }
  if (path == "/v1/audio/transcriptions" || path == "/v1/audio/speech") {
    if (!only(http::verb::post)) return;
    const Clock::time_point arrived = Clock::now();
    // Both block on the model; a transcription's body is also parsed there
    // (up to max_audio_upload_mb: too long for an I/O thread).
    if (path == "/v1/audio/speech") return offload([this, ex, arrived] { speak(*ex, arrived); });
    return offload([this, ex, arrived] { transcribe(*ex, arrived); });
  }
  if (path == "/v2" || starts_with(path, "/v2/")) return kserve(ex, path);
  respond_error(*ex, not_found_error("no route " + path));
}

namespace {

// A model as OpenAI's API describes one; an LLM also says how many tokens a
// sequence holds (vLLM's max_model_len, llama-server's context_length).
boost::json::object model_card(const ServedModel& m) {
  boost::json::object card{
      {"id", m.name()}, {"object", "model"}, {"created", 0}, {"owned_by", "modelpool"}};
  if (const std::size_t tokens = m.model().max_sequence_tokens(); tokens > 0) {
    card["max_model_len"] = tokens;
    card["context_length"] = tokens;
  }
  const std::string unready = m.model().stats().unready_reason;
  card["ready"] = unready.empty();
  if (!unready.empty()) card["unready_reason"] = unready;
  return card;
}

}  // namespace

void Api::list_models(Exchange& ex) {
  boost::json::array data;
  for (const auto& m : models_.ready_models()) data.push_back(model_card(*m));
  ex.respond(http::status::ok,
             boost::json::serialize(boost::json::object{{"object", "list"}, {"data", std::move(data)}}));
}

void Api::retrieve_model(Exchange& ex, const std::string& id) {
  std::shared_ptr<ServedModel> m = models_.find(id);
  if (!m) {
    return respond_error(ex, not_found_error("model '" + id + "' is not loaded (see GET /v1/models)"));
  }
  ex.respond(http::status::ok, boost::json::serialize(model_card(*m)));
}

void Api::health(Exchange& ex) {
  if (!leaving_ && models_.all_ready()) {
    return ex.respond(http::status::ok, boost::json::serialize(boost::json::object{{"status", "ok"}}));
  }
  std::string why = leaving_ ? "Shutting down" : models_.unready_reason();
  if (why.empty()) why = "Loading model";
  ex.respond(http::status::service_unavailable, error_body(ErrorFormat::kOpenAI, why, "unavailable_error", 503));
}

}  // namespace modelpool::server
