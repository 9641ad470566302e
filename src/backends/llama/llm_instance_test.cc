// generation_request_from: the KServe path's typed parameters (no model needed).
#include <gtest/gtest.h>

#include "backends/llama/llm_service.h"

namespace modelpool {
namespace {

Request prompt_with(std::initializer_list<std::pair<std::string, Parameters::Value>> params) {
  Request r;
  r.inputs.push_back({"text_input", "BYTES", {1}, Buffer::adopt(encode_bytes_element("Hello"))});
  for (const auto& [k, v] : params) r.parameters.set(k, v);
  return r;
}

TEST(GenerationRequestFromTest, TypedParametersApply) {
  auto g = generation_request_from(prompt_with({{"max_tokens", 1e3},
                                                {"temperature", std::int64_t{0}},
                                                {"top_p", 0.5},
                                                {"top_k", 3.0},
                                                {"seed", std::int64_t{4294967295}},
                                                {"ignore_eos", true}}));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->prompt, "Hello");
  EXPECT_EQ(g->max_tokens, 1000);  // not 1, as reading "1e3" through text gave
  EXPECT_EQ(g->temperature, 0.0f);
  EXPECT_EQ(g->top_p, 0.5f);
  EXPECT_EQ(g->top_k, 3);
  EXPECT_EQ(g->seed, 4294967295u);
  EXPECT_TRUE(g->ignore_eos);
}

TEST(GenerationRequestFromTest, DefaultsWithoutParameters) {
  auto g = generation_request_from(prompt_with({}));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->max_tokens, GenerationRequest{}.max_tokens);
  EXPECT_FALSE(g->seed.has_value());
}

TEST(GenerationRequestFromTest, WrongTypesAndRangesAreRefusedByName) {
  struct Case {
    std::string key;
    Parameters::Value value;
    std::string needle;
  };
  for (const Case& c : std::vector<Case>{
           {"max_tokens", std::string("50 tokens"),
            "parameters.max_tokens: expected an integer in [1, 1048576], got \"50 tokens\""},
           {"max_tokens", 2.5, "parameters.max_tokens"},
           {"max_tokens", std::int64_t{0}, "parameters.max_tokens"},
           {"temperature", std::string("0.5"),
            "parameters.temperature: expected a number in [0, 2]"},
           {"temperature", 2.5, "parameters.temperature"},
           {"seed", std::int64_t{-1}, "parameters.seed: expected an integer in [0, 4294967295]"},
           {"seed", std::int64_t{4294967296}, "parameters.seed"},
           {"ignore_eos", std::int64_t{1}, "parameters.ignore_eos: expected true or false"},
           {"max_token", std::int64_t{5}, "parameters: unknown 'max_token'"},
       }) {
    auto g = generation_request_from(prompt_with({{c.key, c.value}}));
    ASSERT_FALSE(g.ok()) << c.key << " = " << to_string(c.value);
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(g.status().message().find(c.needle), std::string::npos) << g.status().message();
  }
}

}  // namespace
}  // namespace modelpool
