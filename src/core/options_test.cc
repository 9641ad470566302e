#include "modelpool/options.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

namespace modelpool {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const OptionSchema& schema() {
  static const OptionSchema s = {
      OptionSpec::integer("count", 0, 100, "10", "how many"),
      OptionSpec::integer("every", -1, OptionSpec::kUnbounded, "0", "every Nth, -1: all"),
      OptionSpec::number("delay_ms", 0, 1000, "0.5", "how long"),
      OptionSpec::boolean("share", true, "whether to share"),
      OptionSpec::choice("service", {"sleep", "cpu"}, "sleep", "how to spend time"),
      OptionSpec::string("label", "", "any text"),
  };
  return s;
}

Result<OptionValues> read(std::map<std::string, std::string> options) {
  return resolve(schema(), options, "test model 'm'");
}

// The message of a refusal of `options`, or "" when they are accepted.
std::string refusal(std::map<std::string, std::string> options) {
  Result<OptionValues> v = read(std::move(options));
  if (v.ok()) return {};
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  return v.status().message();
}

TEST(OptionsTest, AbsentOptionsHoldTheDefaults) {
  Result<OptionValues> v = read({});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->integer("count"), 10);
  EXPECT_EQ(v->integer("every"), 0);
  EXPECT_EQ(v->number("delay_ms"), 0.5);
  EXPECT_TRUE(v->boolean("share"));
  EXPECT_EQ(v->string("service"), "sleep");
  EXPECT_EQ(v->string("label"), "");
  EXPECT_FALSE(v->given("count"));
}

TEST(OptionsTest, GivenOptionsAreTyped) {
  Result<OptionValues> v = read({{"count", "100"},
                                 {"every", "9007199254740993"},
                                 {"delay_ms", "2.5e2"},
                                 {"share", "false"},
                                 {"service", "cpu"},
                                 {"label", "a b|c"}});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->integer("count"), 100);
  EXPECT_EQ(v->integer("every"), 9007199254740993);  // no detour through a double
  EXPECT_EQ(v->number("delay_ms"), 250.0);
  EXPECT_FALSE(v->boolean("share"));
  EXPECT_EQ(v->string("service"), "cpu");
  EXPECT_EQ(v->string("label"), "a b|c");
  EXPECT_TRUE(v->given("count"));
  EXPECT_FALSE(v->given("nothing"));
}

TEST(OptionsTest, IntegersAreDecimalAndInRange) {
  EXPECT_EQ(refusal({{"count", "0"}}), "");
  EXPECT_EQ(refusal({{"every", "-1"}}), "");
  EXPECT_EQ(refusal({{"count", "101"}}),
            "test model 'm': option 'count' = '101': expected an integer in [0, 100]");
  EXPECT_EQ(refusal({{"every", "-2"}}),
            "test model 'm': option 'every' = '-2': expected an integer >= -1");
  for (const char* bad :
       {"", "2.5", "1e3", "+5", " 5", "5 ", "0x10", "ten", "true", "99999999999999999999"}) {
    EXPECT_TRUE(contains(refusal({{"count", bad}}), "option 'count' = '" + std::string(bad) + "'"))
        << bad;
  }
}

TEST(OptionsTest, NumbersAreFiniteAndInRange) {
  for (const char* good : {"0", "1000", "0.1", "100.000000", "1e2", "-0"}) {
    EXPECT_EQ(refusal({{"delay_ms", good}}), "") << good;
  }
  EXPECT_EQ(refusal({{"delay_ms", "-5"}}),
            "test model 'm': option 'delay_ms' = '-5': expected a number in [0, 1000]");
  for (const char* bad : {"", "1000.5", "nan", "inf", "5ms", "1,5"}) {
    EXPECT_TRUE(contains(refusal({{"delay_ms", bad}}), "expected a number in [0, 1000]")) << bad;
  }
}

TEST(OptionsTest, BooleansAreTrueOrFalse) {
  for (const char* bad : {"1", "0", "yes", "True", ""}) {
    EXPECT_EQ(refusal({{"share", bad}}), "test model 'm': option 'share' = '" + std::string(bad) +
                                             "': expected true or false");
  }
}

TEST(OptionsTest, ChoicesAreListed) {
  EXPECT_EQ(refusal({{"service", "gpu"}}),
            "test model 'm': option 'service' = 'gpu': expected one of sleep cpu");
  EXPECT_EQ(refusal({{"service", "Sleep"}}).empty(), false);
  EXPECT_EQ(refusal({{"label", "anything at all"}}), "");
}

TEST(OptionsTest, UnknownKeysAreRefusedListingTheKnownOnes) {
  EXPECT_EQ(refusal({{"cuont", "1"}, {"count", "2"}, {"zz", "3"}}),
            "test model 'm': unknown option 'cuont', 'zz' (known: count, delay_ms, every, label, "
            "service, share)");
  // A bad value is reported before unknown keys.
  EXPECT_TRUE(contains(refusal({{"cuont", "1"}, {"count", "-1"}}), "option 'count' = '-1'"));
  // Without a context the message starts at the problem.
  Result<OptionValues> v = resolve({}, {{"x", "1"}}, "");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "unknown option 'x' (known: none)");
}

TEST(OptionsTest, ABrokenDefaultIsTheSchemasFault) {
  const OptionSchema broken = {OptionSpec::integer("n", 1, 5, "0", "n")};
  Result<OptionValues> v = resolve(broken, {}, "m");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInternal);
  EXPECT_TRUE(resolve(broken, {{"n", "3"}}, "m").ok());
}

TEST(OptionsTest, CheckSchemaFindsFaultySchemas) {
  EXPECT_TRUE(check_schema(schema()).ok()) << check_schema(schema()).message();
  EXPECT_TRUE(check_schema({}).ok());
  struct Case {
    OptionSchema schema;
    std::string want;
  };
  const Case cases[] = {
      {{OptionSpec::integer("n", 1, 5, "0", "n")}, "option 'n': default '0'"},
      {{OptionSpec::integer("n", 5, 1, "3", "n")}, "option 'n': min 5 > max 1"},
      {{OptionSpec::boolean("b", true, "b"), OptionSpec::boolean("b", false, "b")},
       "option 'b': listed twice"},
      {{OptionSpec::choice("c", {"x", "y"}, "z", "c")}, "default 'z' is not one of x y"},
      {{OptionSpec::integer("", 0, 1, "0", "n")}, "no name"},
      {{OptionSpec::integer("n", 0, 1, "0", "")}, "one line of documentation"},
      {{OptionSpec{"n", OptionSpec::Type::kInt, 0, 1, {"a"}, "0", "n"}}, "choices are for strings"},
  };
  for (const Case& c : cases) {
    const Status s = check_schema(c.schema);
    EXPECT_FALSE(s.ok()) << c.want;
    EXPECT_TRUE(contains(s.message(), c.want)) << s.message();
  }
}

TEST(OptionsTest, ExpectedValuesInWords) {
  EXPECT_EQ(expected_values(OptionSpec::integer("n", 1, 65536, "1", "n")),
            "an integer in [1, 65536]");
  EXPECT_EQ(expected_values(OptionSpec::integer("n", 0, OptionSpec::kUnbounded, "0", "n")),
            "an integer >= 0");
  EXPECT_EQ(expected_values(OptionSpec::number("x", 0.25, 3600000, "1", "x")),
            "a number in [0.25, 3600000]");
  EXPECT_EQ(expected_values(OptionSpec::boolean("b", true, "b")), "true or false");
  EXPECT_EQ(expected_values(OptionSpec::string("s", "", "s")), "any string");
  EXPECT_EQ(type_name(OptionSpec::Type::kNumber), "number");
}

TEST(OptionsTest, MarkdownTableHasOneRowPerOption) {
  const std::string table = option_table_markdown("test", schema());
  EXPECT_EQ(table,
            "<!-- config-keys: test options -->\n"
            "| `[model.options]` for `test` | type | values | default | meaning |\n"
            "|---|---|---|---|---|\n"
            "| `count` | integer | [0, 100] | `10` | how many |\n"
            "| `every` | integer | >= -1 | `0` | every Nth, -1: all |\n"
            "| `delay_ms` | number | [0, 1000] | `0.5` | how long |\n"
            "| `share` | boolean | `true`, `false` | `true` | whether to share |\n"
            "| `service` | string | `sleep`, `cpu` | `\"sleep\"` | how to spend time |\n"
            "| `label` | string | any | `\"\"` | any text |\n");
}

TEST(OptionsTest, AskingForAnOptionNotInTheSchemaIsAProgrammingError) {
  Result<OptionValues> v = read({});
  ASSERT_TRUE(v.ok());
  EXPECT_DEATH(v->integer("nothing"), "no integer option 'nothing'");
  EXPECT_DEATH(v->number("count"), "no number option 'count'");
}

}  // namespace
}  // namespace modelpool
