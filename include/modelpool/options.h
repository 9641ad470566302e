// Options as data: each backend publishes the options its models take
// (name, type, range, default, one line of documentation), and everything
// that deals with options reads that schema: the config check (file:line:key
// errors), the backend reading its values, `modelpool backends`, and the
// README's option tables.
//
//   const OptionSchema schema = {
//       OptionSpec::integer("load_ms", 0, 3'600'000, "0", "time loading the weights takes"),
//       OptionSpec::choice("service", {"sleep", "cpu"}, "sleep", "how a run spends its time"),
//   };
//   Result<OptionValues> v = resolve(schema, spec.options, "sim model 'm'");
//   if (!v.ok()) return v.status();     // names the key, the value, what was expected
//   std::int64_t load_ms = v->integer("load_ms");  // the given value, or the default
//
// Values are text, as a config file's loader keeps them (ModelSpec::options):
//   kBool    "true" or "false"
//   kInt     a decimal integer ("-1", "4096"); no sign '+', no spaces, no fraction
//   kNumber  a decimal or exponent number ("0.1", "250", "2.5e-7"); finite
//   kString  any text; one of `choices` when the option lists some
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "modelpool/status.h"

namespace modelpool {

struct OptionSpec {
  enum class Type { kBool, kInt, kNumber, kString };
  // An upper bound that is no bound (`max` of an option "N >= 0").
  static constexpr double kUnbounded = std::numeric_limits<double>::infinity();

  std::string name;
  Type type = Type::kInt;
  // kInt and kNumber: the inclusive range (kUnbounded: none above). A kInt
  // bound is exact up to 2^53; beyond, write kUnbounded.
  double min = 0;
  double max = 0;
  // kString: the allowed values (empty: any string).
  std::vector<std::string> choices;
  // The default, as a config would write it ("0", "true", "sleep").
  std::string default_value;
  std::string doc;  // one line

  // The ways to write one, in a schema's initializer list.
  static OptionSpec integer(std::string name, double min, double max, std::string default_value,
                            std::string doc);
  static OptionSpec number(std::string name, double min, double max, std::string default_value,
                           std::string doc);
  static OptionSpec boolean(std::string name, bool default_value, std::string doc);
  static OptionSpec choice(std::string name, std::vector<std::string> choices,
                           std::string default_value, std::string doc);
  static OptionSpec string(std::string name, std::string default_value, std::string doc);
};

// A backend's options, in the order its documentation lists them.
using OptionSchema = std::vector<OptionSpec>;

// "boolean", "integer", "number", "string".
std::string_view type_name(OptionSpec::Type type);
// The values `spec` accepts, in words, as errors and tables write them:
// "true or false", "an integer in [1, 65536]", "an integer >= 0",
// "a number in [0, 3600000]", "one of sleep cpu", "any string".
std::string expected_values(const OptionSpec& spec);

// Checks a schema itself: names non-empty and unique, ranges with
// min <= max, choices only on strings, every default valid for its option,
// one line of documentation each.
// kInvalidArgument naming the first faulty option. A backend's schema that
// fails this is a programming error; the tests run it on every backend.
Status check_schema(const OptionSchema& schema);

// Every option of a schema with its value: the given one, else the default.
// Built by resolve(); copyable, immutable.
//
// The accessors take an option's name and return its typed value.
// REQUIRES: `name` is in the schema and has the accessor's type
// (integer: kInt, number: kNumber, boolean: kBool, string: kString);
// anything else is a programming error and aborts with a message.
class OptionValues {
 public:
  std::int64_t integer(std::string_view name) const;
  double number(std::string_view name) const;
  bool boolean(std::string_view name) const;
  const std::string& string(std::string_view name) const;
  // Whether the options gave `name` a value (false: it holds the default).
  bool given(std::string_view name) const;

 private:
  friend Result<OptionValues> resolve(const OptionSchema&,
                                      const std::map<std::string, std::string>&, std::string_view);
  using Value = std::variant<bool, std::int64_t, double, std::string>;
  struct Entry {
    Value value;
    bool given = false;
  };
  const Value& find(std::string_view name, std::size_t type_index) const;

  std::map<std::string, Entry, std::less<>> entries_;
};

// Checks `options` against `schema` and returns every option's value.
// kInvalidArgument, `context` first ("sim model 'm'"), when
//  - a value does not parse or is out of range (the first such option, in
//    schema order):
//      sim model 'm': option 'service_ms' = '-5': expected a number in [0, 3600000]
//  - else when keys are not in the schema (all of them, and the known ones):
//      sim model 'm': unknown option 'servce' (known: fail_check_every, ...)
// REQUIRES: check_schema(schema) is ok.
Result<OptionValues> resolve(const OptionSchema& schema,
                             const std::map<std::string, std::string>& options,
                             std::string_view context);

// The README's table of a backend's options, in Markdown, from its schema:
// a line `<!-- config-keys: BACKEND options -->`, the header, then one row
// per option (name, type, values, default, doc). Ends with a newline.
std::string option_table_markdown(std::string_view backend, const OptionSchema& schema);

}  // namespace modelpool
