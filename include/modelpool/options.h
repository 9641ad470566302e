// Options as data: each backend publishes the options its models take
// (name, type, range, default, one line of documentation), and everything
// that deals with options reads that schema: the config check (file:line:key
// errors), the backend reading its values, `modelpool backends`, and the
// README's option tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace modelpool {

struct OptionSpec {
  enum class Type { kBool, kInt, kNumber, kString };
  std::string name;
  Type type = Type::kInt;
  // kInt and kNumber: the inclusive range.
  double min = 0;
  double max = 0;
  // kString: the allowed values (empty: any string).
  std::vector<std::string> choices;
  // The default, as a config would write it ("0", "true", "sleep").
  std::string default_value;
  std::string doc;  // one line
};

using OptionSchema = std::vector<OptionSpec>;

}  // namespace modelpool
