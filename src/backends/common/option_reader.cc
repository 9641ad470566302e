#include "backends/common/option_reader.h"

#include <cerrno>
#include <cstdlib>

namespace modelpool {

const std::string* OptionReader::find(std::string_view key) {
  seen_.emplace(key);
  auto it = options_.find(std::string(key));
  return it == options_.end() ? nullptr : &it->second;
}

void OptionReader::fail(std::string_view key, const std::string& value,
                        const std::string& expected) {
  if (!error_.ok()) return;
  error_ = invalid_argument_error(context_ + ": option '" + std::string(key) + "' = '" + value +
                                  "': expected " + expected);
}

void OptionReader::get(std::string_view key, std::int64_t* out, std::int64_t min,
                       std::int64_t max) {
  const std::string* v = find(key);
  if (v == nullptr) return;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(v->c_str(), &end, 10);
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (v->empty() || *end != '\0' || errno != 0 || parsed < min || parsed > max) {
    fail(key, *v, range);
    return;
  }
  *out = parsed;
}

void OptionReader::get(std::string_view key, double* out, double min, double max) {
  const std::string* v = find(key);
  if (v == nullptr) return;
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno != 0 || !(parsed >= min && parsed <= max)) {
    fail(key, *v, "a number in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return;
  }
  *out = parsed;
}

void OptionReader::get(std::string_view key, bool* out) {
  const std::string* v = find(key);
  if (v == nullptr) return;
  if (*v == "true" || *v == "1") {
    *out = true;
  } else if (*v == "false" || *v == "0") {
    *out = false;
  } else {
    fail(key, *v, "true or false");
  }
}

void OptionReader::get(std::string_view key, std::string* out,
                       std::initializer_list<std::string_view> allowed) {
  const std::string* v = find(key);
  if (v == nullptr) return;
  if (allowed.size() == 0) {
    *out = *v;
    return;
  }
  std::string expected = "one of";
  for (std::string_view a : allowed) {
    if (*v == a) {
      *out = *v;
      return;
    }
    expected += " " + std::string(a);
  }
  fail(key, *v, expected);
}

Status OptionReader::finish() const {
  if (!error_.ok()) return error_;
  std::string unknown;
  for (const auto& [k, v] : options_) {
    if (seen_.count(k) == 0) unknown += (unknown.empty() ? "'" : ", '") + k + "'";
  }
  if (!unknown.empty()) {
    std::string known;
    for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
    return invalid_argument_error(context_ + ": unknown option " + unknown + " (known: " + known + ")");
  }
  return {};
}

}  // namespace modelpool
