// What the OpenAI request parser accepts and what it refuses by name.
#include "server/openai_request.h"

#include <gtest/gtest.h>

namespace modelpool::server {
namespace {

std::string error_of(const std::string& body, bool chat = true) {
  auto r = parse_completion_ask(body, chat);
  return r.ok() ? "ok" : r.status().message();
}

std::string chat_with(const std::string& extra) {
  return R"({"model":"m","messages":[{"role":"user","content":"Hi"}])" + extra + "}";
}

TEST(OpenAiRequest, FieldsTheServerDoesNotImplementAreRefusedByName) {
  EXPECT_EQ(error_of(chat_with(R"(,"tools":[{"type":"function"}])")),
            "tools: not supported by this server");
  EXPECT_EQ(error_of(chat_with(R"(,"tool_choice":"auto")")),
            "tool_choice: not supported by this server");
  EXPECT_EQ(error_of(chat_with(R"(,"functions":[])")), "functions: not supported by this server");
  EXPECT_EQ(error_of(chat_with(R"(,"parallel_tool_calls":true)")),
            "parallel_tool_calls: not supported by this server");
  EXPECT_EQ(error_of(chat_with(R"(,"modalities":["audio"])")),
            "modalities: not supported by this server");
  EXPECT_EQ(error_of(chat_with(R"(,"n":2)")), "n: only 1 is supported by this server");
  EXPECT_EQ(error_of(R"({"model":"m","prompt":"x","suffix":"y"})", false),
            "suffix: not supported by this server");
  EXPECT_EQ(error_of(R"({"model":"m","prompt":"x","echo":true})", false),
            "echo: not supported by this server");
  EXPECT_EQ(error_of(R"({"model":"m","prompt":"x","best_of":3})", false),
            "best_of: only 1 is supported by this server");
  EXPECT_EQ(error_of(chat_with(R"(,"stream_options":{"include_usage":true,"x":1})")),
            "stream_options.x: not supported by this server");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"user","content":"Hi","name":"bob"}]})"),
            "messages[0].name: not supported by this server");
}

TEST(OpenAiRequest, NullCountsAsAbsentAndDefaultsAreAccepted) {
  EXPECT_EQ(
      error_of(chat_with(R"(,"tools":null,"n":null,"logit_bias":null,"response_format":null)")),
      "ok");
  EXPECT_EQ(error_of(chat_with(R"(,"n":1)")), "ok");
  EXPECT_EQ(error_of(R"({"model":"m","prompt":"x","echo":false,"best_of":1,"suffix":null})", false),
            "ok");
}

TEST(OpenAiRequest, ContentPartsRolesAndNullAssistantContent) {
  auto a = parse_completion_ask(
      R"({"model":"m","user":"alice","messages":[{"role":"developer","content":"Be brief"},)"
      R"({"role":"user","content":[{"type":"text","text":"Hello"},{"type":"text","text":"there"}]},)"
      R"({"role":"assistant","content":null}]})",
      true);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_EQ(a->generation.messages.size(), 3u);
  EXPECT_EQ(a->generation.messages[0].role, "system");
  EXPECT_EQ(a->generation.messages[1].content, "Hello\nthere");
  EXPECT_EQ(a->generation.messages[2].content, "");
  EXPECT_EQ(a->user, "alice");

  EXPECT_EQ(
      error_of(
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})"),
      "messages[0].content[0].type: 'image_url' is not supported by this server (text only)");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"tool","content":"x"}]})"),
            "messages[0].role: 'tool' is not supported by this server (system, developer, user, "
            "assistant)");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"user","content":null}]})"),
            "messages[0].content: required (null only in an assistant's message)");
}

TEST(OpenAiRequest, SamplingFields) {
  auto a = parse_completion_ask(
      chat_with(R"(,"max_completion_tokens":7,"presence_penalty":1.5,"frequency_penalty":-0.5,)"
                R"("logit_bias":{"42":-100,"7":3.5},"logprobs":true,"top_logprobs":3)"),
      true);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  const GenerationRequest& g = a->generation;
  EXPECT_EQ(g.max_tokens, 7);
  EXPECT_FLOAT_EQ(g.presence_penalty, 1.5f);
  EXPECT_FLOAT_EQ(g.frequency_penalty, -0.5f);
  EXPECT_EQ(g.logit_bias, (std::vector<std::pair<std::int32_t, float>>{{42, -100.0f}, {7, 3.5f}}));
  EXPECT_TRUE(g.logprobs);
  EXPECT_EQ(g.top_logprobs, 3);

  auto c = parse_completion_ask(R"({"model":"m","prompt":"x","logprobs":2})", false);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->generation.logprobs);
  EXPECT_EQ(c->generation.top_logprobs, 2);

  EXPECT_EQ(error_of(chat_with(R"(,"max_tokens":5,"max_completion_tokens":6)")),
            "max_tokens: disagrees with max_completion_tokens (give one of them)");
  EXPECT_EQ(error_of(chat_with(R"(,"max_tokens":6,"max_completion_tokens":6)")), "ok");
  EXPECT_EQ(error_of(chat_with(R"(,"logit_bias":{"x1":1})")), "logit_bias: 'x1' is not a token id");
  EXPECT_EQ(error_of(chat_with(R"(,"logit_bias":{"5":-101})")),
            "logit_bias: the bias of token 5 must be a number in [-100, 100]");
  EXPECT_NE(error_of(chat_with(R"(,"presence_penalty":2.5)")).find("presence_penalty:"),
            std::string::npos);
  EXPECT_EQ(error_of(chat_with(R"(,"top_logprobs":2)")), "top_logprobs: needs logprobs: true");
  EXPECT_NE(error_of(chat_with(R"(,"logprobs":true,"top_logprobs":21)")).find("top_logprobs:"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model":"m","prompt":"x","logprobs":6})", false).find("logprobs:"),
            std::string::npos);
}

TEST(OpenAiRequest, ResponseFormats) {
  auto json_object =
      parse_completion_ask(chat_with(R"(,"response_format":{"type":"json_object"})"), true);
  ASSERT_TRUE(json_object.ok());
  EXPECT_EQ(json_object->generation.response_format.kind, ResponseFormat::Kind::kJsonObject);

  auto schema = parse_completion_ask(
      chat_with(
          R"(,"response_format":{"type":"json_schema","json_schema":{"name":"a","strict":true,)"
          R"("schema":{"type":"string","enum":["x"]}}})"),
      true);
  ASSERT_TRUE(schema.ok()) << schema.status().to_string();
  EXPECT_EQ(schema->generation.response_format.kind, ResponseFormat::Kind::kJsonSchema);
  EXPECT_EQ(schema->generation.response_format.json_schema, R"({"type":"string","enum":["x"]})");

  EXPECT_EQ(error_of(chat_with(R"(,"response_format":{"type":"xml"})")),
            "response_format.type: 'xml' is not supported by this server (text, json_object, "
            "json_schema)");
  EXPECT_EQ(error_of(chat_with(
                R"(,"response_format":{"type":"json_schema","json_schema":{"name":"a","x":1}})")),
            "response_format.json_schema.x: not supported by this server");
}

}  // namespace
}  // namespace modelpool::server
