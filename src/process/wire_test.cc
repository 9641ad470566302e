#include "process/wire.h"

#include <gtest/gtest.h>

namespace modelpool::process {
namespace {

TEST(Wire, RoundTripsAGenerationRequestWithEveryField) {
  GenerationRequest g;
  g.prompt = "hello";
  g.messages = {{"system", "be brief"}, {"user", "hi"}};
  g.max_tokens = 7;
  g.temperature = 0.5f;
  g.top_p = 0.25f;
  g.top_k = 3;
  g.seed = 42;
  g.stop = {"\n", "END"};
  g.ignore_eos = true;
  g.logit_bias = {{5, -100.0f}, {9, 2.5f}};
  g.presence_penalty = 1.0f;
  g.frequency_penalty = -0.5f;
  g.response_format = {ResponseFormat::Kind::kJsonSchema, R"({"type":"object"})"};
  g.logprobs = true;
  g.top_logprobs = 2;
  g.on_text = [](std::string_view) { return true; };

  WireWriter w({.type = MessageType::kGenerate, .call = 9});
  put(w, g);
  WireReader r(w.bytes());
  GenerationRequest back;
  bool text = false, logprobs = true;
  get(r, &back, &text, &logprobs);
  ASSERT_TRUE(r.finish().ok()) << r.finish().message();
  EXPECT_EQ(r.header().call, 9u);
  EXPECT_EQ(back.prompt, "hello");
  ASSERT_EQ(back.messages.size(), 2u);
  EXPECT_EQ(back.messages[1].content, "hi");
  EXPECT_EQ(back.max_tokens, 7);
  EXPECT_FLOAT_EQ(back.top_p, 0.25f);
  EXPECT_EQ(back.seed, 42u);
  EXPECT_EQ(back.stop, g.stop);
  EXPECT_TRUE(back.ignore_eos);
  EXPECT_EQ(back.logit_bias, g.logit_bias);
  EXPECT_EQ(back.response_format.kind, ResponseFormat::Kind::kJsonSchema);
  EXPECT_EQ(back.response_format.json_schema, g.response_format.json_schema);
  EXPECT_TRUE(back.logprobs);
  EXPECT_EQ(back.top_logprobs, 2);
  EXPECT_TRUE(text);
  EXPECT_FALSE(logprobs);
}

TEST(Wire, RoundTripsParametersKeepingTheirTypes) {
  Parameters p;
  p.set("b", true);
  p.set("i", std::int64_t{-3});
  p.set("u", std::uint64_t{1} << 63);
  p.set("d", 2.5);
  p.set("s", std::string("x"));
  WireWriter w({.type = MessageType::kInfer});
  put(w, p);
  WireReader r(w.bytes());
  Parameters back;
  get(r, &back);
  ASSERT_TRUE(r.finish().ok());
  EXPECT_EQ(back.values(), p.values());
}

TEST(Wire, EveryTruncationIsAnErrorNotACrash) {
  GenerationResult g;
  g.text = "some text";
  g.tokens = {1, 2, 3};
  g.token_times_s = {0.1, 0.2};
  g.logprobs.push_back({{1, "a", -0.5f}, {{2, "b", -1.0f}}});
  WireWriter w({.type = MessageType::kDone});
  put(w, g);
  const std::string whole = w.bytes();
  for (std::size_t n = 0; n < whole.size(); ++n) {
    WireReader r(std::string_view(whole).substr(0, n));
    GenerationResult back;
    get(r, &back);
    EXPECT_FALSE(r.finish().ok()) << "a message cut at " << n << " bytes was read as whole";
  }
  WireReader r(whole);
  GenerationResult back;
  get(r, &back);
  ASSERT_TRUE(r.finish().ok());
  EXPECT_EQ(back.tokens, g.tokens);
  EXPECT_EQ(back.logprobs[0].top[0].text, "b");
}

TEST(Wire, AHugeCountIsRefusedBeforeAnythingIsAllocated) {
  WireWriter w({.type = MessageType::kInfer});
  w.u64(std::uint64_t{1} << 60);  // tensors
  WireReader r(w.bytes());
  std::vector<TensorRef> refs;
  get(r, &refs);
  EXPECT_TRUE(refs.empty());
  EXPECT_NE(r.finish().message().find("count"), std::string::npos) << r.finish().message();
}

TEST(Wire, RefusesBadMagicUnknownStatusAndLeftoverBytes) {
  std::string bad(kHeaderBytes, '\0');
  EXPECT_FALSE(WireReader(bad).finish().ok());

  WireWriter w({.type = MessageType::kDone});
  w.u32(99);
  w.str("?");
  WireReader r(w.bytes());
  Status s;
  get(r, &s);
  EXPECT_NE(r.finish().message().find("status code"), std::string::npos);

  WireWriter extra({.type = MessageType::kPing});
  extra.u8(1);
  EXPECT_NE(WireReader(extra.bytes()).finish().message().find("unexpected bytes"), std::string::npos);
}

}  // namespace
}  // namespace modelpool::process
