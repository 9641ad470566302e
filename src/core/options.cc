// The schema-driven option reader: one parser per type, the same words in
// errors, tables and `modelpool backends`.
#include "modelpool/options.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

namespace modelpool {
namespace {

using Type = OptionSpec::Type;
using Value = std::variant<bool, std::int64_t, double, std::string>;

// 2^53: below it every integer is a double, and prints as one.
constexpr double kExactIntegers = 9007199254740992.0;

// A bound as a person writes it: "65536", "-1", "0.5".
std::string format_number(double x) {
  if (std::floor(x) == x && std::fabs(x) < kExactIntegers) {
    return std::to_string(static_cast<std::int64_t>(x));
  }
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, x);
  return ec == std::errc() ? std::string(buffer, end) : std::string("?");
}

bool in_range(double x, const OptionSpec& spec) {
  return x >= spec.min && x <= spec.max;
}

// The value `text` writes for `spec`, or nullopt when it writes none.
std::optional<Value> parse(const OptionSpec& spec, const std::string& text) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  switch (spec.type) {
    case Type::kBool:
      if (text == "true") return Value(true);
      if (text == "false") return Value(false);
      return std::nullopt;
    case Type::kInt: {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(first, last, v);
      if (text.empty() || ec != std::errc() || end != last) return std::nullopt;
      if (!in_range(static_cast<double>(v), spec)) return std::nullopt;
      return Value(v);
    }
    case Type::kNumber: {
      double v = 0;
      auto [end, ec] = std::from_chars(first, last, v);
      if (text.empty() || ec != std::errc() || end != last) return std::nullopt;
      if (!std::isfinite(v) || !in_range(v, spec)) return std::nullopt;
      return Value(v);
    }
    case Type::kString:
      if (spec.choices.empty()) return Value(text);
      for (const std::string& c : spec.choices) {
        if (c == text) return Value(text);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

std::string range_words(const OptionSpec& spec) {
  if (spec.max == OptionSpec::kUnbounded) return ">= " + format_number(spec.min);
  return "in [" + format_number(spec.min) + ", " + format_number(spec.max) + "]";
}

std::string with_context(std::string_view context, const std::string& message) {
  if (context.empty()) return message;
  return std::string(context) + ": " + message;
}

std::size_t type_index(Type type) {
  switch (type) {
    case Type::kBool: return 0;
    case Type::kInt: return 1;
    case Type::kNumber: return 2;
    case Type::kString: return 3;
  }
  return 0;
}

// The values column of a table: "[1, 65536]", ">= 0", "`sleep`, `cpu`".
std::string values_cell(const OptionSpec& spec) {
  switch (spec.type) {
    case Type::kBool: return "`true`, `false`";
    case Type::kInt:
    case Type::kNumber:
      return spec.max == OptionSpec::kUnbounded
                 ? ">= " + format_number(spec.min)
                 : "[" + format_number(spec.min) + ", " + format_number(spec.max) + "]";
    case Type::kString: {
      if (spec.choices.empty()) return "any";
      std::string out;
      for (const std::string& c : spec.choices) out += (out.empty() ? "`" : ", `") + c + "`";
      return out;
    }
  }
  return {};
}

// The default as a config file writes it: `0`, `true`, `"sleep"`.
std::string default_cell(const OptionSpec& spec) {
  if (spec.type == Type::kString) return "`\"" + spec.default_value + "\"`";
  return "`" + spec.default_value + "`";
}

std::string escape_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

OptionSpec OptionSpec::integer(std::string name, double min, double max, std::string default_value,
                               std::string doc) {
  return {std::move(name), Type::kInt, min, max, {}, std::move(default_value), std::move(doc)};
}

OptionSpec OptionSpec::number(std::string name, double min, double max, std::string default_value,
                              std::string doc) {
  return {std::move(name), Type::kNumber, min, max, {}, std::move(default_value), std::move(doc)};
}

OptionSpec OptionSpec::boolean(std::string name, bool default_value, std::string doc) {
  return {std::move(name), Type::kBool, 0, 0, {}, default_value ? "true" : "false", std::move(doc)};
}

OptionSpec OptionSpec::choice(std::string name, std::vector<std::string> choices,
                              std::string default_value, std::string doc) {
  return {std::move(name),          Type::kString, 0, 0, std::move(choices),
          std::move(default_value), std::move(doc)};
}

OptionSpec OptionSpec::string(std::string name, std::string default_value, std::string doc) {
  return {std::move(name), Type::kString, 0, 0, {}, std::move(default_value), std::move(doc)};
}

std::string_view type_name(OptionSpec::Type type) {
  switch (type) {
    case Type::kBool: return "boolean";
    case Type::kInt: return "integer";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
  }
  return "unknown";
}

std::string expected_values(const OptionSpec& spec) {
  switch (spec.type) {
    case Type::kBool: return "true or false";
    case Type::kInt: return "an integer " + range_words(spec);
    case Type::kNumber: return "a number " + range_words(spec);
    case Type::kString: {
      if (spec.choices.empty()) return "any string";
      std::string out = "one of";
      for (const std::string& c : spec.choices) out += " " + c;
      return out;
    }
  }
  return {};
}

Status check_schema(const OptionSchema& schema) {
  std::set<std::string_view> names;
  for (const OptionSpec& spec : schema) {
    const std::string where = "option '" + spec.name + "': ";
    if (spec.name.empty()) return invalid_argument_error("an option has no name");
    if (!names.insert(spec.name).second) return invalid_argument_error(where + "listed twice");
    const bool ranged = spec.type == Type::kInt || spec.type == Type::kNumber;
    if (ranged && !(spec.min <= spec.max)) {
      return invalid_argument_error(where + "min " + format_number(spec.min) + " > max " +
                                    format_number(spec.max));
    }
    if (!spec.choices.empty() && spec.type != Type::kString) {
      return invalid_argument_error(where + "choices are for strings, not a " +
                                    std::string(type_name(spec.type)));
    }
    if (!parse(spec, spec.default_value)) {
      return invalid_argument_error(where + "default '" + spec.default_value + "' is not " +
                                    expected_values(spec));
    }
    if (spec.doc.empty() || spec.doc.find('\n') != std::string::npos) {
      return invalid_argument_error(where + "expected one line of documentation");
    }
  }
  return {};
}

const OptionValues::Value& OptionValues::find(std::string_view name, std::size_t index) const {
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.value.index() != index) {
    static constexpr const char* kTypes[] = {"boolean", "integer", "number", "string"};
    std::fprintf(stderr, "OptionValues: no %s option '%.*s' in the schema\n", kTypes[index],
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return it->second.value;
}

std::int64_t OptionValues::integer(std::string_view name) const {
  return std::get<std::int64_t>(find(name, type_index(Type::kInt)));
}

double OptionValues::number(std::string_view name) const {
  return std::get<double>(find(name, type_index(Type::kNumber)));
}

bool OptionValues::boolean(std::string_view name) const {
  return std::get<bool>(find(name, type_index(Type::kBool)));
}

const std::string& OptionValues::string(std::string_view name) const {
  return std::get<std::string>(find(name, type_index(Type::kString)));
}

bool OptionValues::given(std::string_view name) const {
  auto it = entries_.find(name);
  return it != entries_.end() && it->second.given;
}

Result<OptionValues> resolve(const OptionSchema& schema,
                             const std::map<std::string, std::string>& options,
                             std::string_view context) {
  OptionValues values;
  for (const OptionSpec& spec : schema) {
    auto it = options.find(spec.name);
    const bool given = it != options.end();
    const std::string& text = given ? it->second : spec.default_value;
    std::optional<Value> value = parse(spec, text);
    if (!value && !given) {  // a broken schema, not a broken config
      return internal_error(with_context(
          context, "option '" + spec.name + "' has an invalid default '" + text + "'"));
    }
    if (!value) {
      return invalid_argument_error(with_context(
          context,
          "option '" + spec.name + "' = '" + text + "': expected " + expected_values(spec)));
    }
    values.entries_[spec.name] = {std::move(*value), given};
  }
  std::string unknown;
  for (const auto& [key, text] : options) {
    if (!values.entries_.contains(key)) unknown += (unknown.empty() ? "'" : ", '") + key + "'";
  }
  if (!unknown.empty()) {
    std::string known;
    for (const auto& [name, entry] : values.entries_) known += (known.empty() ? "" : ", ") + name;
    if (known.empty()) known = "none";
    return invalid_argument_error(
        with_context(context, "unknown option " + unknown + " (known: " + known + ")"));
  }
  return values;
}

std::string option_table_markdown(std::string_view backend, const OptionSchema& schema) {
  std::string out = "<!-- config-keys: " + std::string(backend) + " options -->\n";
  out += "| `[model.options]` for `" + std::string(backend) +
         "` | type | values | default | meaning |\n";
  out += "|---|---|---|---|---|\n";
  for (const OptionSpec& spec : schema) {
    out += "| `" + spec.name + "` | " + std::string(type_name(spec.type)) + " | " +
           escape_cell(values_cell(spec)) + " | " + escape_cell(default_cell(spec)) + " | " +
           escape_cell(spec.doc) + " |\n";
  }
  return out;
}

}  // namespace modelpool
