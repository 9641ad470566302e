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
  if (m.llm() != nullptr) {
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
// "versions/V/rest" → V and rest.
std::pair<std::string, std::string> split_model_path(const std::string& path, std::string_view prefix) {
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
    return ex->respond(http::status::ok,
                       json::serialize(json::object{{"name", "modelpool"},
                                                    {"version", "0.1.0"},
                                                    {"extensions", json::array{"model_repository", "binary_tensor_data"}}}));
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
      if (std::optional<Lease> lease = inline_lease(*ex, model.get())) {
        return infer(ex, name, std::move(model), std::move(lease));
      }
      return offload([this, ex, name = name, model = std::move(model)] { infer(ex, name, model); });
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
      const bool ready = m != nullptr && !draining_;
      return ex->respond(ready ? http::status::ok : http::status::service_unavailable,
                         json::serialize(json::object{{"name", name}, {"ready", ready}}));
    }
    if (!m) return respond_error(*ex, not_found_error("model '" + name + "' is not loaded"));
    return ex->respond(http::status::ok, json::serialize(model_metadata(*m)));
  }
  respond_error(*ex, not_found_error("no route " + path));
}

std::optional<Lease> Api::inline_lease(const Exchange& ex, ServedModel* model) {
  constexpr std::size_t kInlineBodyBytes = 16 * 1024;  // parsing more could hold up other connections
  if (!model || model->llm() != nullptr || draining_ || ex.body().size() > kInlineBodyBytes) {
    return std::nullopt;
  }
  Result<Lease> lease = model->pool()->try_acquire();
  if (!lease.ok() || !(*lease)->quick()) return std::nullopt;  // a worker queues for one
  return std::move(*lease);
}

void Api::infer(std::shared_ptr<Exchange> ex, const std::string& name,
                std::shared_ptr<ServedModel> model, std::optional<Lease> held) {
  const Clock::time_point arrived = Clock::now();
  // The JSON header, and the binary data (binary_tensors.h) that inputs view.
  std::optional<std::string_view> header_length;
  const HttpRequest& req = ex->request();
  if (auto f = req.find(kInferenceHeaderContentLength); f != req.end()) header_length = f->value();
  auto body = split_infer_body(ex->body(), header_length);
  if (!body.ok()) return respond_error(*ex, body.status());
  auto doc = parse_object(body->json);
  if (!doc.ok()) return respond_error(*ex, doc.status());
  if (!model) return respond_error(*ex, not_found_error("model '" + name + "' is not loaded"));
  if (draining_) return refuse_draining(*model, *ex);
  Request request;
  if (const json::value* id = doc->if_contains("id"); id && id->is_string()) request.id = id->as_string();
  // Every element takes at least one byte of the body.
  const auto max_elements = static_cast<std::int64_t>(ex->body().size());
  auto inputs = inputs_from_json(*doc, *body, max_elements);
  if (!inputs.ok()) return respond_error(*ex, inputs.status());
  request.inputs = std::move(*inputs);
  std::int64_t timeout = model->config().timeout_ms;
  if (const json::value* params = doc->if_contains("parameters")) {
    auto parameters = parameters_from_json(*params);
    if (!parameters.ok()) return respond_error(*ex, parameters.status());
    request.parameters = std::move(*parameters);
    // The server's own parameter: a deadline shorter than the model's. The
    // backend gets the others.
    std::int64_t requested = timeout;
    Status s = request.parameters.read_int("timeout_ms", &requested, 1, INT64_MAX);
    if (!s.ok()) return respond_error(*ex, s);
    timeout = std::min(timeout, requested);
    request.parameters.erase("timeout_ms");
  }
  auto choice = output_choice_from_json(*doc, &request.parameters);
  if (!choice.ok()) return respond_error(*ex, choice.status());
  const Deadline deadline = Clock::now() + std::chrono::milliseconds(timeout);

  std::vector<Tensor> outputs;
  Status status;
  if (LlmService* llm = model->llm()) {
    // Text in, text out, through the generation API.
    auto g = generation_request_from(request);
    auto r = g.ok() ? llm->generate(*g, deadline, ex->stop()) : Result<GenerationResult>(g.status());
    if (r.ok()) {
      model->metrics.record_generation(*r);
      ex->note({name, r->prompt_tokens, r->completion_tokens, {}});
      outputs.push_back({"text_output", "BYTES", {1}, Buffer::adopt(encode_bytes_element(r->text))});
    } else {
      status = r.status();
    }
  } else {
    ex->note({name, -1, -1, {}});
    Result<Lease> lease = held ? std::move(*held) : model->pool()->acquire(deadline, ex->stop());
    if (!lease.ok()) {
      status = lease.status();
    } else {
      const Clock::time_point granted = Clock::now();
      model->metrics.queue_wait.record(granted - arrived);
      CollectSink sink;
      try {
        status = (*lease)->run(request, sink, ex->stop());
      } catch (const std::exception& e) {
        status = internal_error(std::string("the model failed: ") + e.what());
      }
      if (status.code() == StatusCode::kInternal) lease->mark_broken(status.message());
      const Clock::time_point done = Clock::now();
      model->metrics.inference.record(done - granted);
      model->metrics.request_duration.record(done - arrived);
      outputs = std::move(sink.outputs);
    }
  }
  if (account(*model, *ex, status) == Outcome::kCutOff) status = cut_off_error();
  if (!status.ok()) return respond_error(*ex, status);
  json::object head{{"model_name", name}, {"model_version", "1"}};
  if (!request.id.empty()) head["id"] = request.id;
  auto response = write_infer_response(std::move(head), outputs, *choice);
  if (!response.ok()) return respond_error(*ex, response.status());
  if (response->header_length == 0) return ex->respond(http::status::ok, std::move(response->body));
  ex->respond(http::status::ok, std::move(response->body), "application/octet-stream",
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
