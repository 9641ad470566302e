#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "modelpool/backend.h"

namespace modelpool {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// `value` read as an integer in [min, max].
Result<std::int64_t> as_int(Parameters::Value value, std::int64_t min = INT64_MIN,
                            std::int64_t max = INT64_MAX) {
  Parameters p;
  p.set("k", std::move(value));
  std::int64_t out = -7;
  Status s = p.read_int("k", &out, min, max);
  if (!s.ok()) return s;
  return out;
}

TEST(ParametersTest, AbsentKeysLeaveTheDefault) {
  Parameters p;
  std::int64_t i = 5;
  double d = 0.5;
  bool b = true;
  std::string s = "x";
  EXPECT_TRUE(p.read_int("n", &i, 0, 10).ok());
  EXPECT_TRUE(p.read_number("t", &d, 0, 1).ok());
  EXPECT_TRUE(p.read_bool("b", &b).ok());
  EXPECT_TRUE(p.read_string("s", &s).ok());
  EXPECT_EQ(i, 5);
  EXPECT_EQ(d, 0.5);
  EXPECT_TRUE(b);
  EXPECT_EQ(s, "x");
}

TEST(ParametersTest, IntegersKeepTheirValue) {
  EXPECT_EQ(*as_int(std::int64_t{42}), 42);
  EXPECT_EQ(*as_int(INT64_MIN), INT64_MIN);
  EXPECT_EQ(*as_int(INT64_MAX), INT64_MAX);
  // A double that is an exact integer is that integer: 1e3 is 1000, never 1.
  EXPECT_EQ(*as_int(1e3), 1000);
  EXPECT_EQ(*as_int(3.0), 3);
  EXPECT_EQ(*as_int(-0.0), 0);
  EXPECT_EQ(*as_int(9007199254740991.0), 9007199254740991);  // 2^53 - 1
}

TEST(ParametersTest, WhatIsNotAnIntegerIsRefusedByName) {
  for (const Parameters::Value& v :
       {Parameters::Value(2.5), Parameters::Value(std::string("50 tokens")),
        Parameters::Value(std::string("50")), Parameters::Value(true),
        Parameters::Value(9007199254740992.0),  // 2^53: digits may have been lost
        Parameters::Value(std::numeric_limits<double>::infinity()),
        Parameters::Value(std::numeric_limits<double>::quiet_NaN()),
        Parameters::Value(std::uint64_t{1} << 63)}) {
    Result<std::int64_t> r = as_int(v);
    ASSERT_FALSE(r.ok()) << to_string(v);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(r.status().message(), "parameters.k: expected an integer"))
        << r.status().message();
  }
  Result<std::int64_t> r = as_int(std::string("50 tokens"), 1, 100);
  EXPECT_EQ(r.status().message(),
            "parameters.k: expected an integer in [1, 100], got \"50 tokens\"");
}

TEST(ParametersTest, IntegerRangesAreInclusive) {
  EXPECT_EQ(*as_int(std::int64_t{1}, 1, 3), 1);
  EXPECT_EQ(*as_int(std::int64_t{3}, 1, 3), 3);
  EXPECT_FALSE(as_int(std::int64_t{0}, 1, 3).ok());
  EXPECT_FALSE(as_int(std::int64_t{4}, 1, 3).ok());
  EXPECT_FALSE(as_int(4.0, 1, 3).ok());
  EXPECT_TRUE(contains(as_int(1e3, 1, 3).status().message(), "got 1000"));
}

TEST(ParametersTest, NumbersBoolsAndStrings) {
  Parameters p;
  p.set("t", 0.25);
  p.set("i", std::int64_t{2});
  p.set("u", std::numeric_limits<std::uint64_t>::max());
  p.set("b", false);
  p.set("s", std::string("hi"));
  double d = 0;
  ASSERT_TRUE(p.read_number("t", &d, 0, 2).ok());
  EXPECT_EQ(d, 0.25);
  ASSERT_TRUE(p.read_number("i", &d, 0, 2).ok());
  EXPECT_EQ(d, 2.0);
  EXPECT_TRUE(contains(p.read_number("u", &d, 0, 2).message(),
                       "expected a number in [0, 2], got 18446744073709551615"));
  EXPECT_TRUE(contains(p.read_number("s", &d, 0, 2).message(), "parameters.s: expected a number"));
  EXPECT_TRUE(contains(p.read_number("b", &d, 0, 2).message(), "got false"));
  bool b = true;
  ASSERT_TRUE(p.read_bool("b", &b).ok());
  EXPECT_FALSE(b);
  EXPECT_TRUE(
      contains(p.read_bool("i", &b).message(), "parameters.i: expected true or false, got 2"));
  std::string s;
  ASSERT_TRUE(p.read_string("s", &s).ok());
  EXPECT_EQ(s, "hi");
  EXPECT_TRUE(
      contains(p.read_string("t", &s).message(), "parameters.t: expected a string, got 0.25"));
}

TEST(ParametersTest, UnknownKeysAreNamed) {
  Parameters p;
  p.set("max_tokens", std::int64_t{3});
  EXPECT_TRUE(p.refuse_unknown({"max_tokens", "seed"}).ok());
  p.set("max_token", std::int64_t{3});
  p.set("zz", true);
  Status s = p.refuse_unknown({"max_tokens", "seed"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "parameters: unknown 'max_token', 'zz' (known: max_tokens, seed)");
  p.erase("max_token");
  p.erase("zz");
  p.erase("absent");
  EXPECT_TRUE(p.refuse_unknown({"max_tokens"}).ok());
}

TEST(ParametersTest, ExactInteger) {
  EXPECT_EQ(exact_integer(-3.0), -3);
  EXPECT_EQ(exact_integer(-9007199254740991.0), -9007199254740991);
  EXPECT_FALSE(exact_integer(-9007199254740992.0));
  EXPECT_FALSE(exact_integer(0.5));
  EXPECT_FALSE(exact_integer(1e300));
  EXPECT_FALSE(exact_integer(-std::numeric_limits<double>::infinity()));
}

}  // namespace
}  // namespace modelpool
