// OpenAI-compatible completions and chat completions, streamed as
// server-sent events when asked.
#include <boost/json.hpp>
#include <ctime>

#include "server/api.h"
#include "server/request_fields.h"

namespace modelpool::server {
namespace {

namespace json = boost::json;

std::string new_id(std::string_view prefix) {
  static std::atomic<std::uint64_t> next{1};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(next.fetch_add(1)));
  return std::string(prefix) + buf;
}

std::string sse(const json::value& v) { return "data: " + json::serialize(v) + "\n\n"; }

// What an OpenAI request asks for, checked field by field.
struct CompletionAsk {
  std::string model;
  GenerationRequest generation;
  bool stream = false;
  bool include_usage = false;
  std::string user;  // the client's identifier, for the access log
  std::optional<std::int64_t> timeout_ms;
};

Result<CompletionAsk> parse(const std::string& body, bool chat) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  Fields f(*doc);
  CompletionAsk a;
  GenerationRequest& g = a.generation;
  f.required_string("model", &a.model);
  if (chat) {
    const json::value* messages = f.get("messages");
    if (messages == nullptr || !messages->is_array() || messages->as_array().empty()) {
      f.fail("messages", "must be a non-empty array of {role, content}");
    } else {
      for (const json::value& m : messages->as_array()) {
        const json::object* o = m.if_object();
        const json::value* role = o ? o->if_contains("role") : nullptr;
        const json::value* content = o ? o->if_contains("content") : nullptr;
        if (!role || !role->is_string() || !content || !content->is_string()) {
          f.fail("messages", "each message needs a string role and a string content");
          break;
        }
        g.messages.push_back({std::string(role->as_string()), std::string(content->as_string())});
      }
    }
  } else {
    const json::value* prompt = f.get("prompt");
    if (prompt && prompt->is_string()) {
      g.prompt = prompt->as_string();
    } else if (prompt && prompt->is_array() && prompt->as_array().size() == 1 &&
               prompt->as_array()[0].is_string()) {
      g.prompt = prompt->as_array()[0].as_string();
    } else {
      f.fail("prompt", "must be a string (or an array of one string)");
    }
  }
  std::int64_t max_tokens = 16;
  if (chat) f.optional_int("max_completion_tokens", &max_tokens, 1, 1 << 20);
  f.optional_int("max_tokens", &max_tokens, 1, 1 << 20);
  g.max_tokens = static_cast<int>(max_tokens);
  double temperature = 1.0, top_p = 1.0;
  f.optional_number("temperature", &temperature, 0, 2);
  f.optional_number("top_p", &top_p, 0.0001, 1);
  g.temperature = static_cast<float>(temperature);
  g.top_p = static_cast<float>(top_p);
  std::int64_t top_k = 0, seed = -1, n = 1, timeout = -1;
  f.optional_int("top_k", &top_k, 0, 1 << 20);
  g.top_k = static_cast<int>(top_k);
  f.optional_int("seed", &seed, INT64_MIN, INT64_MAX);
  if (f.get("seed") != nullptr && !f.get("seed")->is_null()) g.seed = static_cast<std::uint32_t>(seed);
  f.optional_int("n", &n, 1, 1);
  f.optional_bool("stream", &a.stream);
  if (const json::value* user = f.get("user"); user && user->is_string()) a.user = user->as_string();
  f.optional_bool("ignore_eos", &g.ignore_eos);
  f.optional_int("timeout_ms", &timeout, 1, INT64_MAX);
  if (timeout > 0) a.timeout_ms = timeout;
  if (const json::value* so = f.get("stream_options"); so && so->is_object()) {
    if (const json::value* u = so->as_object().if_contains("include_usage"); u && u->is_bool()) {
      a.include_usage = u->as_bool();
    }
  }
  f.optional_string_list("stop", &g.stop, 4);
  if (Status s = f.status(); !s.ok()) return s;
  return a;
}

json::object usage_json(const GenerationResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens}};
}

}  // namespace

void Api::completions(std::shared_ptr<Exchange> ex, bool chat) {
  auto ask = parse(ex->request().body(), chat);
  if (!ask.ok()) return respond_error(*ex, ask.status());
  if (draining_) return respond_error(*ex, shutting_down_error("the server is shutting down"));
  std::shared_ptr<ServedModel> model = models_.find(ask->model);
  if (!model) return respond_error(*ex, not_found_error("model '" + ask->model + "' is not loaded (see GET /v1/models)"));
  LlmService* llm = model->llm();
  if (llm == nullptr) {
    return respond_error(*ex, invalid_argument_error("model '" + ask->model + "' does not generate text; use POST /v2/models/" + ask->model + "/infer"));
  }
  std::int64_t timeout = model->config().timeout_ms;
  if (ask->timeout_ms) timeout = std::min(timeout, *ask->timeout_ms);  // only ever shorter
  const Deadline deadline = Clock::now() + std::chrono::milliseconds(timeout);

  const std::string id = new_id(chat ? "chatcmpl-" : "cmpl-");
  const std::int64_t created = std::time(nullptr);
  const std::string object = chat ? (ask->stream ? "chat.completion.chunk" : "chat.completion")
                                  : "text_completion";
  GenerationRequest& g = ask->generation;
  auto chunk = [&](json::object choice) {
    return json::object{{"id", id}, {"object", object}, {"created", created}, {"model", ask->model},
                        {"choices", json::array{std::move(choice)}}};
  };
  bool started = false;
  // The response's headers and, in a chat, the assistant's role; once.
  auto begin_stream = [&] {
    if (started) return;
    started = true;
    ex->start_stream("text/event-stream");
    if (chat) ex->write(sse(chunk({{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"finish_reason", nullptr}})));
  };
  if (ask->stream) {
    g.on_text = [&](std::string_view piece) {
      begin_stream();
      json::object choice = chat ? json::object{{"index", 0}, {"delta", {{"content", piece}}}, {"finish_reason", nullptr}}
                                 : json::object{{"index", 0}, {"text", piece}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
      return ex->write(sse(chunk(std::move(choice))));
    };
  }

  Result<GenerationResult> r = llm->generate(g, deadline, ex->stop());
  if (r.ok()) {
    model->metrics.record_generation(*r);
    ex->note({ask->model, r->prompt_tokens, r->completion_tokens, ask->user});
  } else {
    ex->note({ask->model, -1, -1, ask->user});
  }
  Status status = r.ok() ? Status() : r.status();
  if (account(*model, *ex, status) == Outcome::kCutOff) status = cut_off_error();
  if (!status.ok()) {
    if (started) {  // cannot change the status line any more: report in the stream
      ex->write(sse(json::object{{"error", {{"message", status.message()}, {"type", error_type_of(status.code())},
                                            {"code", static_cast<int>(http_status_of(status.code()))}}}}));
      ex->write("data: [DONE]\n\n");
      return ex->finish();
    }
    return respond_error(*ex, status);
  }
  const std::string_view finish = finish_reason_name(r->finish_reason);

  if (ask->stream) {
    begin_stream();
    json::object last = chat ? json::object{{"index", 0}, {"delta", json::object{}}, {"finish_reason", finish}}
                             : json::object{{"index", 0}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", finish}};
    json::object final_chunk = chunk(std::move(last));
    if (ask->include_usage) {
      ex->write(sse(final_chunk));
      json::object usage_chunk{{"id", id}, {"object", object}, {"created", created}, {"model", ask->model},
                               {"choices", json::array{}}, {"usage", usage_json(*r)}};
      ex->write(sse(usage_chunk));
    } else {
      final_chunk["usage"] = usage_json(*r);
      ex->write(sse(final_chunk));
    }
    ex->write("data: [DONE]\n\n");
    return ex->finish();
  }
  json::object choice = chat ? json::object{{"index", 0}, {"message", {{"role", "assistant"}, {"content", r->text}}}, {"logprobs", nullptr}, {"finish_reason", finish}}
                             : json::object{{"index", 0}, {"text", r->text}, {"logprobs", nullptr}, {"finish_reason", finish}};
  json::object out = chunk(std::move(choice));
  out["usage"] = usage_json(*r);
  ex->respond(http::status::ok, json::serialize(out));
}

}  // namespace modelpool::server
