#include "server/tensor_json.h"

#include <gtest/gtest.h>

#include "server/json_parse.h"

namespace modelpool::server {
namespace {

namespace json = boost::json;

json::value parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = parse_json(text, ec);
  EXPECT_FALSE(ec) << text << ": " << ec.message();
  return v;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ParametersFromJsonTest, KeepTheirJsonTypes) {
  auto p = parameters_from_json(parse(
      R"({"b":true,"i":-3,"u":18446744073709551615,"d":1e3,"f":0.5,"s":"50 tokens"})"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(*p->find("b"), Parameters::Value(true));
  EXPECT_EQ(*p->find("i"), Parameters::Value(std::int64_t{-3}));
  EXPECT_EQ(*p->find("u"), Parameters::Value(std::uint64_t{18446744073709551615u}));
  EXPECT_EQ(*p->find("d"), Parameters::Value(1000.0));
  EXPECT_EQ(*p->find("f"), Parameters::Value(0.5));
  EXPECT_EQ(*p->find("s"), Parameters::Value(std::string("50 tokens")));
  std::int64_t n = 0;
  ASSERT_TRUE(p->read_int("d", &n, 1, 1 << 20).ok());
  EXPECT_EQ(n, 1000);
  EXPECT_FALSE(p->read_int("s", &n, 1, 1 << 20).ok());
}

TEST(ParametersFromJsonTest, RefusesWhatIsNotAScalarByName) {
  for (const char* text : {R"({"x":null})", R"({"x":[1]})", R"({"x":{"a":1}})", R"({"x":1e400})"}) {
    auto p = parameters_from_json(parse(text));
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(p.status().message(), "parameters.x: ")) << p.status().message();
  }
  EXPECT_FALSE(parameters_from_json(parse("[1]")).ok());
}

}  // namespace
}  // namespace modelpool::server
