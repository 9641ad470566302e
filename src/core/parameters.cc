// Parameters: typed request parameters (include/modelpool/backend.h).
#include <charconv>
#include <cmath>
#include <limits>

#include "modelpool/backend.h"

namespace modelpool {

namespace {

Status wrong(std::string_view key, const std::string& expected, const Parameters::Value& got) {
  return invalid_argument_error("parameters." + std::string(key) + ": expected " + expected +
                                ", got " + to_string(got));
}

std::string range_text(double min, double max) {
  return "[" + to_string(Parameters::Value(min)) + ", " + to_string(Parameters::Value(max)) + "]";
}

}  // namespace

std::string to_string(const Parameters::Value& value) {
  struct Writer {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(std::uint64_t u) const { return std::to_string(u); }
    std::string operator()(double d) const {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof(buf), d);  // shortest round trip
      return std::string(buf, r.ptr);
    }
    std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
  };
  return std::visit(Writer{}, value);
}

std::optional<std::int64_t> exact_integer(double d) {
  constexpr double kUnsafe = 9007199254740992.0;                             // 2^53
  if (!(std::fabs(d) < kUnsafe) || std::trunc(d) != d) return std::nullopt;  // NaN fails the first
  return static_cast<std::int64_t>(d);
}

const Parameters::Value* Parameters::find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

void Parameters::erase(std::string_view key) {
  if (auto it = values_.find(key); it != values_.end()) values_.erase(it);
}

Status Parameters::read_int(std::string_view key, std::int64_t* out, std::int64_t min,
                            std::int64_t max) const {
  const Value* v = find(key);
  if (v == nullptr) return {};
  const std::string expected =
      "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  std::optional<std::int64_t> x;
  if (const auto* i = std::get_if<std::int64_t>(v)) {
    x = *i;
  } else if (const auto* d = std::get_if<double>(v)) {
    x = exact_integer(*d);
  }
  // A uint64 is above INT64_MAX, so never in range.
  if (!x || *x < min || *x > max) return wrong(key, expected, *v);
  *out = *x;
  return {};
}

Status Parameters::read_number(std::string_view key, double* out, double min, double max) const {
  const Value* v = find(key);
  if (v == nullptr) return {};
  std::optional<double> x;
  if (const auto* i = std::get_if<std::int64_t>(v)) x = static_cast<double>(*i);
  if (const auto* u = std::get_if<std::uint64_t>(v)) x = static_cast<double>(*u);
  if (const auto* d = std::get_if<double>(v)) x = *d;
  if (!x || !(*x >= min && *x <= max)) return wrong(key, "a number in " + range_text(min, max), *v);
  *out = *x;
  return {};
}

Status Parameters::read_bool(std::string_view key, bool* out) const {
  const Value* v = find(key);
  if (v == nullptr) return {};
  const auto* b = std::get_if<bool>(v);
  if (b == nullptr) return wrong(key, "true or false", *v);
  *out = *b;
  return {};
}

Status Parameters::read_string(std::string_view key, std::string* out) const {
  const Value* v = find(key);
  if (v == nullptr) return {};
  const auto* s = std::get_if<std::string>(v);
  if (s == nullptr) return wrong(key, "a string", *v);
  *out = *s;
  return {};
}

Status Parameters::refuse_unknown(std::initializer_list<std::string_view> known) const {
  std::string unknown;
  for (const auto& [key, value] : values_) {
    bool found = false;
    for (std::string_view k : known) found = found || k == key;
    if (!found) unknown += (unknown.empty() ? "'" : ", '") + key + "'";
  }
  if (unknown.empty()) return {};
  std::string names;
  for (std::string_view k : known) names += (names.empty() ? "" : ", ") + std::string(k);
  return invalid_argument_error("parameters: unknown " + unknown + " (known: " + names + ")");
}

}  // namespace modelpool
