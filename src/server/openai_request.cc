#include "server/openai_request.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "server/request_fields.h"

namespace modelpool::server {
namespace {

namespace json = boost::json;

bool present(const json::value* v) {
  return v != nullptr && !v->is_null();
}

// messages[i]: {role, content}, content a string or an array of text parts
// (joined with "\n", as vLLM does). Roles as OpenAI's: "developer" is the
// system's voice; an assistant's content may be null (empty).
void parse_messages(Fields& f, std::vector<ChatMessage>* out) {
  const json::value* messages = f.get("messages");
  if (!present(messages) || !messages->is_array() || messages->as_array().empty()) {
    return f.fail("messages", "must be a non-empty array of {role, content}");
  }
  const json::array& list = messages->as_array();
  for (std::size_t i = 0; i < list.size() && f.status().ok(); ++i) {
    const std::string name = "messages[" + std::to_string(i) + "]";
    const json::object* m = list[i].if_object();
    if (m == nullptr) return f.fail(name, "must be an object {role, content}");
    Fields mf(*m);
    mf.only({"role", "content"}, name + ".");
    const json::value* role = mf.get("role");
    std::string r = present(role) && role->is_string() ? std::string(role->as_string()) : "";
    if (r == "developer") r = "system";
    if (r != "system" && r != "user" && r != "assistant") {
      mf.fail(name + ".role",
              role && role->is_string()
                  ? "'" + std::string(role->as_string()) +
                        "' is not supported by this server (system, developer, user, assistant)"
                  : std::string("required: system, developer, user or assistant"));
    }
    ChatMessage message{r, ""};
    const json::value* content = mf.get("content");
    if (!present(content)) {
      if (r != "assistant") {
        mf.fail(name + ".content", "required (null only in an assistant's message)");
      }
    } else if (content->is_string()) {
      message.content = content->as_string();
    } else if (content->is_array()) {
      const json::array& parts = content->as_array();
      for (std::size_t j = 0; j < parts.size() && mf.status().ok(); ++j) {
        const std::string part_name = name + ".content[" + std::to_string(j) + "]";
        const json::object* part = parts[j].if_object();
        const json::value* type = part ? part->if_contains("type") : nullptr;
        if (!type || !type->is_string()) {
          mf.fail(part_name, "must be an object with a string type");
        } else if (type->as_string() != "text") {
          mf.fail(part_name + ".type", "'" + std::string(type->as_string()) +
                                           "' is not supported by this server (text only)");
        } else {
          Fields pf(*part);
          pf.only({"type", "text"}, part_name + ".");
          const json::value* text = part->if_contains("text");
          if (!text || !text->is_string()) pf.fail(part_name + ".text", "expected a string");
          if (!pf.status().ok()) return f.fail_with(pf.status());
          if (j > 0) message.content += '\n';
          message.content += text->as_string();
        }
      }
    } else {
      mf.fail(name + ".content", "expected a string, an array of text parts, or null");
    }
    if (!mf.status().ok()) return f.fail_with(mf.status());
    out->push_back(std::move(message));
  }
}

// logit_bias: {"<token id>": bias in [-100, 100]}; whether the id is in the
// vocabulary is the model's to say.
void parse_logit_bias(Fields& f, std::vector<std::pair<std::int32_t, float>>* out) {
  const json::value* v = f.get("logit_bias");
  if (!present(v)) return;
  if (!v->is_object()) return f.fail("logit_bias", "expected an object {\"token id\": bias}");
  for (const auto& [key, bias] : v->as_object()) {
    std::int32_t token = -1;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), token);
    if (ec != std::errc() || end != key.data() + key.size() || token < 0) {
      return f.fail("logit_bias", "'" + std::string(key) + "' is not a token id");
    }
    if (!bias.is_number() || !(std::abs(bias.to_number<double>()) <= 100)) {
      return f.fail("logit_bias",
                    "the bias of token " + std::string(key) + " must be a number in [-100, 100]");
    }
    out->push_back({token, static_cast<float>(bias.to_number<double>())});
  }
}

// response_format: {"type": "text" | "json_object" | "json_schema",
// "json_schema": {"name", "description", "schema", "strict"}}. The output
// always follows the schema (constrained decoding), strict or not.
void parse_response_format(Fields& f, ResponseFormat* out) {
  const json::value* v = f.get("response_format");
  if (!present(v)) return;
  if (!v->is_object()) return f.fail("response_format", "expected an object {type, ...}");
  Fields rf(v->as_object());
  const json::value* type = rf.get("type");
  if (!type || !type->is_string()) {
    return f.fail("response_format.type", "required: text, json_object or json_schema");
  }
  const std::string_view t = type->as_string();
  if (t == "text" || t == "json_object") {
    rf.only({"type"}, "response_format.");
    out->kind = t == "text" ? ResponseFormat::Kind::kText : ResponseFormat::Kind::kJsonObject;
  } else if (t == "json_schema") {
    rf.only({"type", "json_schema"}, "response_format.");
    const json::value* js = rf.get("json_schema");
    if (!present(js) || !js->is_object()) {
      rf.fail("response_format.json_schema", "required: {name, schema}");
    } else {
      Fields jf(js->as_object());
      jf.only({"name", "description", "schema", "strict"}, "response_format.json_schema.");
      const std::string where = "response_format.json_schema.";
      for (const char* key : {"name", "description"}) {
        if (present(jf.get(key)) && !jf.get(key)->is_string()) {
          jf.fail(where + key, "expected a string");
        }
      }
      if (present(jf.get("strict")) && !jf.get("strict")->is_bool()) {
        jf.fail(where + "strict", "expected true or false");
      }
      const json::value* schema = jf.get("schema");
      if (present(schema) && !schema->is_object() && !schema->is_bool()) {
        jf.fail("response_format.json_schema.schema", "expected a JSON schema (an object)");
      }
      if (!jf.status().ok()) return f.fail_with(jf.status());
      out->kind = ResponseFormat::Kind::kJsonSchema;
      out->json_schema = present(schema) ? json::serialize(*schema) : "{}";
    }
  } else {
    rf.fail("response_format.type",
            "'" + std::string(t) +
                "' is not supported by this server (text, json_object, json_schema)");
  }
  if (!rf.status().ok()) f.fail_with(rf.status());
}

}  // namespace

Result<CompletionAsk> parse_completion_ask(std::string_view body, bool chat) {
  auto doc = parse_object(body);
  if (!doc.ok()) return doc.status();
  Fields f(*doc);
  if (chat) {
    f.only({"model",
            "messages",
            "stream",
            "stream_options",
            "max_tokens",
            "max_completion_tokens",
            "temperature",
            "top_p",
            "top_k",
            "seed",
            "n",
            "stop",
            "presence_penalty",
            "frequency_penalty",
            "logit_bias",
            "logprobs",
            "top_logprobs",
            "response_format",
            "user",
            "ignore_eos",
            "cache_prompt",
            "timeout_ms"});
  } else {
    f.only({"model",
            "prompt",
            "stream",
            "stream_options",
            "max_tokens",
            "temperature",
            "top_p",
            "top_k",
            "seed",
            "n",
            "best_of",
            "echo",
            "stop",
            "presence_penalty",
            "frequency_penalty",
            "logit_bias",
            "logprobs",
            "response_format",
            "user",
            "ignore_eos",
            "cache_prompt",
            "timeout_ms"});
  }
  CompletionAsk a;
  GenerationRequest& g = a.generation;
  f.required_string("model", &a.model);
  if (chat) {
    parse_messages(f, &g.messages);
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
  f.optional_int("max_tokens", &max_tokens, 1, 1 << 20);
  if (chat && present(f.get("max_completion_tokens"))) {
    std::int64_t max_completion_tokens = max_tokens;
    f.optional_int("max_completion_tokens", &max_completion_tokens, 1, 1 << 20);
    if (present(f.get("max_tokens")) && max_completion_tokens != max_tokens) {
      f.fail("max_tokens", "disagrees with max_completion_tokens (give one of them)");
    }
    max_tokens = max_completion_tokens;
  }
  g.max_tokens = static_cast<int>(max_tokens);
  double temperature = 1.0, top_p = 1.0, presence = 0, frequency = 0;
  f.optional_number("temperature", &temperature, 0, 2);
  f.optional_number("top_p", &top_p, 0.0001, 1);
  f.optional_number("presence_penalty", &presence, -2, 2);
  f.optional_number("frequency_penalty", &frequency, -2, 2);
  g.temperature = static_cast<float>(temperature);
  g.top_p = static_cast<float>(top_p);
  g.presence_penalty = static_cast<float>(presence);
  g.frequency_penalty = static_cast<float>(frequency);
  std::int64_t top_k = 0, seed = -1, timeout = -1;
  f.optional_int("top_k", &top_k, 0, 1 << 20);
  g.top_k = static_cast<int>(top_k);
  f.optional_int("seed", &seed, INT64_MIN, INT64_MAX);
  if (present(f.get("seed"))) g.seed = static_cast<std::uint32_t>(seed);
  for (const char* key : {"n", "best_of"}) {
    const json::value* v = f.get(key);
    if (present(v) && !(v->is_int64() && v->as_int64() == 1) &&
        !(v->is_uint64() && v->as_uint64() == 1)) {
      f.fail(key, "only 1 is supported by this server");
    }
  }
  f.optional_bool("cache_prompt", &g.cache_prompt);
  bool echo = false;
  f.optional_bool("echo", &echo);
  if (echo) f.fail("echo", "not supported by this server");
  f.optional_bool("stream", &a.stream);
  f.optional_bool("ignore_eos", &g.ignore_eos);
  f.optional_int("timeout_ms", &timeout, 1, INT64_MAX);
  if (timeout > 0) a.timeout_ms = timeout;
  if (const json::value* so = f.get("stream_options"); present(so)) {
    if (!so->is_object()) {
      f.fail("stream_options", "expected an object {include_usage}");
    } else {
      Fields sf(so->as_object());
      sf.only({"include_usage"}, "stream_options.");
      sf.optional_bool("include_usage", &a.include_usage);
      if (!sf.status().ok()) f.fail_with(sf.status());
    }
  }
  f.optional_string_list("stop", &g.stop, 4);
  if (present(f.get("user"))) f.required_string("user", &a.user);
  parse_logit_bias(f, &g.logit_bias);
  parse_response_format(f, &g.response_format);
  if (chat) {
    f.optional_bool("logprobs", &g.logprobs);
    std::int64_t top = 0;
    f.optional_int("top_logprobs", &top, 0, 20);
    if (present(f.get("top_logprobs")) && !g.logprobs) {
      f.fail("top_logprobs", "needs logprobs: true");
    }
    g.top_logprobs = static_cast<int>(top);
  } else if (present(f.get("logprobs"))) {
    std::int64_t top = 0;
    f.optional_int("logprobs", &top, 0, 5);
    g.logprobs = true;
    g.top_logprobs = static_cast<int>(top);
  }
  if (Status s = f.status(); !s.ok()) return s;
  return a;
}

}  // namespace modelpool::server
