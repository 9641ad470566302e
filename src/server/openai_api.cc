// OpenAI-compatible completions and chat completions, streamed as
// server-sent events when asked.
#include <boost/json.hpp>
#include <ctime>
#include <span>
#include <utility>

#include "server/api.h"
#include "server/openai_request.h"

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

// A token's text for JSON: its bytes, with what is not valid UTF-8 (a token
// may hold part of a character) replaced by U+FFFD.
std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xE  ? 3
                      : (c >> 3) == 0x1E ? 4
                                         : 0;
    bool ok = len > 0 && i + len <= bytes.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    }
    if (ok) {
      out.append(bytes.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

json::array bytes_of(std::string_view text) {
  json::array out;
  for (char c : text) out.push_back(static_cast<unsigned char>(c));
  return out;
}

// Log-probabilities in the response's shape, gathered as the engine hands
// them over and taken by each chunk: chat's {"content": [{token, logprob,
// bytes, top_logprobs}]}, completions' {tokens, token_logprobs,
// top_logprobs: [{token: logprob}], text_offset}. Text offsets count the
// characters of the completion before each token, across chunks.
class LogprobsJson {
 public:
  explicit LogprobsJson(bool chat) : chat_(chat) {}

  void add(std::span<const TokenLogprob> entries) {
    for (const TokenLogprob& e : entries) {
      if (chat_) {
        json::array top;
        for (const TokenProb& t : e.top) {
          top.push_back(
              {{"token", valid_utf8(t.text)}, {"logprob", t.logprob}, {"bytes", bytes_of(t.text)}});
        }
        content_.push_back({{"token", valid_utf8(e.text)},
                            {"logprob", e.logprob},
                            {"bytes", bytes_of(e.text)},
                            {"top_logprobs", std::move(top)}});
        continue;
      }
      tokens_.push_back(json::string(valid_utf8(e.text)));
      token_logprobs_.push_back(e.logprob);
      json::object top;
      for (const TokenProb& t : e.top) top.emplace(valid_utf8(t.text), t.logprob);
      top_.push_back(std::move(top));
      text_offset_.push_back(offset_);
      // Characters, not bytes: UTF-8 continuation bytes do not start one.
      for (char c : e.text) offset_ += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }
  }

  // What was added since the last take.
  json::object take() {
    if (chat_) return {{"content", std::exchange(content_, {})}};
    return {{"tokens", std::exchange(tokens_, {})},
            {"token_logprobs", std::exchange(token_logprobs_, {})},
            {"top_logprobs", std::exchange(top_, {})},
            {"text_offset", std::exchange(text_offset_, {})}};
  }

 private:
  const bool chat_;
  json::array content_;
  json::array tokens_, token_logprobs_, top_, text_offset_;
  std::uint64_t offset_ = 0;
};

json::object usage_json(const GenerationResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens},
          {"prompt_tokens_details", json::object{{"cached_tokens", r.cached_tokens}}}};
}

}  // namespace

void Api::completions(std::shared_ptr<Exchange> ex, bool chat) {
  auto ask = parse_completion_ask(ex->body().view(), chat);
  if (!ask.ok()) return respond_error(*ex, ask.status());
  std::shared_ptr<ServedModel> model = models_.find(ask->model);
  if (!model) return respond_error(*ex, not_found_error("model '" + ask->model + "' is not loaded (see GET /v1/models)"));
  if (draining_) return refuse_draining(*model, *ex);
  if (!model->can(Capability::kGenerate)) {
    return respond_error(*ex, invalid_argument_error(missing_capability_error(ask->model, Capability::kGenerate).message() +
                                                     " (it does not generate text); use POST /v2/models/" + ask->model + "/infer"));
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
  LogprobsJson logprobs(chat);
  // The choice's "logprobs": what was gathered since the last chunk.
  auto add_logprobs = [&](json::object& choice) {
    if (g.logprobs) {
      choice["logprobs"] = logprobs.take();
    } else if (!chat) {
      choice["logprobs"] = nullptr;
    }
  };
  if (ask->stream) {
    if (g.logprobs) {
      g.on_logprobs = [&](std::span<const TokenLogprob> entries) { logprobs.add(entries); };
    }
    g.on_text = [&](std::string_view piece) {
      begin_stream();
      json::object choice = chat ? json::object{{"index", 0}, {"delta", {{"content", piece}}}}
                                 : json::object{{"index", 0}, {"text", piece}};
      add_logprobs(choice);
      choice["finish_reason"] = nullptr;
      return ex->write(sse(chunk(std::move(choice))));
    };
  }

  Result<GenerationResult> r = model->model().generate(g, deadline, ex->stop());
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
    json::object last = chat ? json::object{{"index", 0}, {"delta", json::object{}}}
                             : json::object{{"index", 0}, {"text", ""}};
    add_logprobs(last);  // of tokens whose text was never streamed (a stop string's)
    last["finish_reason"] = finish;
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
  json::object choice =
      chat ? json::object{{"index", 0}, {"message", {{"role", "assistant"}, {"content", r->text}}}}
           : json::object{{"index", 0}, {"text", r->text}};
  logprobs.add(r->logprobs);
  add_logprobs(choice);
  if (chat && !g.logprobs) choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish;
  json::object out = chunk(std::move(choice));
  out["usage"] = usage_json(*r);
  ex->respond(http::status::ok, json::serialize(out));
}

}  // namespace modelpool::server
