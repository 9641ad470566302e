// KServe v2 / Triton: server and model metadata, readiness, inference with
// JSON tensors, and the model repository.
#include <boost/json.hpp>

#include "server/api.h"
#include "server/binary_tensors.h"
#include "server/request_fields.h"
#include "server/tensor_json.h"

namespace modelpool::server {
namespace {

namespace json = boost::json;

json::object model_metadata(const ServedModel& m) {
  json::array inputs, outputs;
  // A text model's infer is text in, text out (generation_request_from).
  if (m.can(Capability::kGenerate)) {
    inputs.push_back(json::object{{"name", "text_input"}, {"datatype", "BYTES"}, {"shape", json::array{1}}});
    outputs.push_back(json::object{{"name", "text_output"}, {"datatype", "BYTES"}, {"shape", json::array{1}}});
  }
  return {{"name", m.name()},
          {"versions", json::array{"1"}},
          {"platform", "modelpool-" + m.config().backend},
          {"inputs", std::move(inputs)},
          {"outputs", std::move(outputs)}};
}

// "/v2/models/NAME/rest" → NAME and rest ("" , "ready", "infer", ...); also
// "versions/V/rest" → V and rest. A path that does not start with `prefix`:
// both empty (no route).
std::pair<std::string, std::string> split_model_path(const std::string& path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return {};
  std::string rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

}  // namespace

void Api::kserve(std::shared_ptr<Exchange> ex, const std::string& path) {
  const http::verb method = routed_method(ex->request());
  auto method_not_allowed = [&](std::string_view allowed) { respond_method_not_allowed(*ex, path, allowed); };
  if (path == "/v2") {
    if (method != http::verb::get) return method_not_allowed("GET, HEAD");
    json::array extensions{"model_repository", "binary_tensor_data"};
    if (options_.allow_client_shm) extensions.push_back("system_shared_memory");
    return ex->respond(http::status::ok,
                       json::serialize(json::object{{"name", "modelpool"},
                                                    {"version", "0.1.0"},
                                                    {"extensions", std::move(extensions)}}));
  }
  if (path == "/v2/systemsharedmemory" || path.rfind("/v2/systemsharedmemory/", 0) == 0) {
    return system_shared_memory(ex, path);
  }
  if (path.rfind("/v2/repository/", 0) == 0) {
    if (method != http::verb::post) return method_not_allowed("POST");
    return repository(ex, path);
  }
  if (path.rfind("/v2/models/", 0) == 0) {
    auto [name, rest] = split_model_path(path, "/v2/models/");
    // /v2/models/{m}/versions/{v}[/ready|/infer]: the routes of the model for
    // its one version, "1".
    if (rest.rfind("versions/", 0) == 0) {
      auto [version, after] = split_model_path(rest, "versions/");
      if (version.empty()) return respond_error(*ex, not_found_error("no route " + path));
      if (version != "1") {
        return respond_error(*ex, not_found_error("unknown version '" + version + "' of model '" + name +
                                                  "' (its only version is 1)"));
      }
      rest = after;
    }
    if (rest == "infer") {
      if (method != http::verb::post) return method_not_allowed("POST");
      std::shared_ptr<ServedModel> model = models_.find(name);
      // Parsing more could hold up the I/O thread's other connections.
      constexpr std::size_t kInlineBodyBytes = 16 * 1024;
      if (ex->body().size() > kInlineBodyBytes) {
        return offload([this, ex, name = name, model = std::move(model)] {
          if (std::optional<InferCall> call = parse_infer(*ex, name, model.get())) infer(ex, model, std::move(*call));
        });
      }
      std::optional<InferCall> call = parse_infer(*ex, name, model.get());
      if (!call) return;
      // An idle instance whose run is quick answers here, without a hand-off
      // (unless an output is to be copied into shared memory: any size).
      CollectSink sink;
      if (!call->outputs.writes_shm()) {
        if (auto now = model->model().infer_now(call->request, sink)) {
          return answer_infer(*ex, *model, *call, std::move(*now), sink);
        }
      }
      return offload([this, ex, model = std::move(model), call = std::move(*call)]() mutable {
        infer(ex, std::move(model), std::move(call));
      });
    }
    if (rest != "" && rest != "ready") {
      return respond_error(*ex, not_found_error("no route " + path));
    }
    if (method != http::verb::get) return method_not_allowed("GET, HEAD");
    std::shared_ptr<ServedModel> m = models_.find(name);
    if (rest == "ready") {
      if (!m && models_.configured(name) == nullptr) {
        return respond_error(*ex, not_found_error("unknown model '" + name + "'"));
      }
      const std::string unready = m != nullptr ? m->model().stats().unready_reason : std::string();
      const bool ready = m != nullptr && !leaving_ && unready.empty();
      json::object body{{"name", name}, {"ready", ready}};
      if (!unready.empty()) body["reason"] = unready;
      return ex->respond(ready ? http::status::ok : http::status::service_unavailable, json::serialize(body));
    }
    if (!m) return respond_error(*ex, not_found_error("model '" + name + "' is not loaded"));
    return ex->respond(http::status::ok, json::serialize(model_metadata(*m)));
  }
  respond_error(*ex, not_found_error("no route " + path));
}

std::optional<Api::InferCall> Api::parse_infer(Exchange& ex, const std::string& name, ServedModel* model) {
  InferCall call;
  call.arrived = Clock::now();
  // The JSON header, and the binary data (binary_tensors.h) that inputs view.
  std::optional<std::string_view> header_length;
  const HttpRequest& req = ex.request();
  if (auto f = req.find(kInferenceHeaderContentLength); f != req.end()) header_length = f->value();
  auto body = split_infer_body(ex.body(), header_length);
  if (!body.ok()) return respond_error(ex, body.status()), std::nullopt;
  auto doc = parse_object(body->json);
  if (!doc.ok()) return respond_error(ex, doc.status()), std::nullopt;
  if (!model) return respond_error(ex, not_found_error("model '" + name + "' is not loaded")), std::nullopt;
  if (draining_) return refuse_draining(*model, ex), std::nullopt;
  if (!model->can(Capability::kInfer)) {
    return respond_error(ex, missing_capability_error(name, Capability::kInfer)), std::nullopt;
  }
  Request& request = call.request;
  if (const json::value* id = doc->if_contains("id"); id && id->is_string()) request.id = id->as_string();
  // Every element takes at least one byte of the body.
  const auto max_elements = static_cast<std::int64_t>(ex.body().size());
  auto inputs = inputs_from_json(*doc, *body, max_elements, shm_regions());
  if (!inputs.ok()) return respond_error(ex, inputs.status()), std::nullopt;
  request.inputs = std::move(*inputs);
  std::int64_t timeout = model->config().timeout_ms;
  if (const json::value* params = doc->if_contains("parameters")) {
    auto parameters = parameters_from_json(*params);
    if (!parameters.ok()) return respond_error(ex, parameters.status()), std::nullopt;
    request.parameters = std::move(*parameters);
    // The server's own parameter: a deadline shorter than the model's. The
    // model gets the others.
    std::int64_t requested = timeout;
    Status s = request.parameters.read_int("timeout_ms", &requested, 1, INT64_MAX);
    if (!s.ok()) return respond_error(ex, s), std::nullopt;
    timeout = std::min(timeout, requested);
    request.parameters.erase("timeout_ms");
  }
  auto choice = output_choice_from_json(*doc, &request.parameters, shm_regions());
  if (!choice.ok()) return respond_error(ex, choice.status()), std::nullopt;
  call.outputs = std::move(*choice);
  call.deadline = Clock::now() + std::chrono::milliseconds(timeout);
  return call;
}

void Api::infer(std::shared_ptr<Exchange> ex, std::shared_ptr<ServedModel> model, InferCall call) {
  CollectSink sink;
  Result<InferStats> result = model->model().infer(call.request, sink, call.deadline, ex->stop());
  answer_infer(*ex, *model, call, std::move(result), sink);
}

Status Api::finish_infer(Exchange& ex, ServedModel& model, Clock::time_point arrived,
                         const Result<InferStats>& result, Status status) {
  if (result.ok() && result->generation) {
    const GenerationResult& g = *result->generation;
    model.metrics.record_generation(g);
    ex.note({model.name(), g.prompt_tokens, g.completion_tokens, {}});
  } else {
    ex.note({model.name(), -1, -1, {}});
    if (result.ok()) {
      model.metrics.queue_wait.record(result->queue_wait);
      model.metrics.inference.record(result->run);
      model.metrics.request_duration.record(Clock::now() - arrived);
    }
  }
  if (account(model, ex, status) == Outcome::kCutOff) status = cut_off_error();
  return status;
}

void Api::answer_infer(Exchange& ex, ServedModel& model, const InferCall& call,
                       Result<InferStats> result, CollectSink& sink) {
  const std::string& name = model.name();
  if (Status status = finish_infer(ex, model, call.arrived, result, result.status());
      !status.ok()) {
    return respond_error(ex, status);
  }
  json::object head{{"model_name", name}, {"model_version", "1"}};
  if (!call.request.id.empty()) head["id"] = call.request.id;
  auto response = write_infer_response(std::move(head), sink.outputs, call.outputs);
  if (!response.ok()) return respond_error(ex, response.status());
  if (response->header_length == 0) return ex.respond(http::status::ok, std::move(response->body));
  ex.respond(http::status::ok, std::move(response->body), "application/octet-stream",
             {{kInferenceHeaderContentLength, std::to_string(response->header_length)}});
}

void Api::repository(std::shared_ptr<Exchange> ex, const std::string& path) {
  if (path == "/v2/repository/index") {
    json::array index;
    for (const ModelState& s : models_.index()) {
      json::object o{{"name", s.name}, {"version", "1"}, {"state", s.state}};
      if (!s.reason.empty()) o["reason"] = s.reason;
      index.push_back(std::move(o));
    }
    return ex->respond(http::status::ok, json::serialize(index));
  }
  auto [name, action] = split_model_path(path, "/v2/repository/models/");
  if (action != "load" && action != "unload") {
    return respond_error(*ex, not_found_error("no route " + path));
  }
  offload([this, ex, name = name, action = action] {
    Status s = action == "load" ? models_.load(name) : models_.unload(name, std::chrono::seconds(10));
    if (!s.ok()) return respond_error(*ex, s);
    ex->respond(http::status::ok, "{}");
  });
}

}  // namespace modelpool::server
