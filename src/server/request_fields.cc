#include "server/request_fields.h"

#include <algorithm>
#include <charconv>

#include "server/json_parse.h"

namespace modelpool::server {

namespace json = boost::json;

namespace {

// The shortest text that reads back as `x`: 0.25, 4, 0.0001.
std::string shortest(double x) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, end);
}

}  // namespace

Result<json::object> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::value v = parse_json(body, ec);
  if (ec) return invalid_argument_error("body is not valid JSON: " + ec.message());
  if (!v.is_object()) return invalid_argument_error("body must be a JSON object");
  return std::move(v.as_object());
}

void Fields::fail(std::string_view key, const std::string& why) {
  if (error_.ok()) error_ = invalid_argument_error(std::string(key) + ": " + why);
}

void Fields::only(std::initializer_list<std::string_view> known, std::string_view where) {
  for (const auto& [key, value] : o_) {
    if (value.is_null()) continue;
    if (std::find(known.begin(), known.end(), std::string_view(key)) != known.end()) continue;
    return fail(std::string(where) + std::string(key), "not supported by this server");
  }
}

void Fields::required_string(std::string_view key, std::string* out) {
  const json::value* v = get(key);
  if (v == nullptr) return fail(key, "required");
  if (!v->is_string()) return fail(key, "expected a string");
  *out = v->as_string();
}

void Fields::optional_int(std::string_view key, std::int64_t* out, std::int64_t min, std::int64_t max) {
  const json::value* v = get(key);
  if (v == nullptr || v->is_null()) return;
  std::int64_t x = 0;
  if (v->is_int64()) {
    x = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    x = static_cast<std::int64_t>(v->as_uint64());
  } else {
    return fail(key, "expected an integer");
  }
  if (x < min || x > max) {
    return fail(key, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(x));
  }
  *out = x;
}

void Fields::optional_number(std::string_view key, double* out, double min, double max) {
  const json::value* v = get(key);
  if (v == nullptr || v->is_null()) return;
  if (!v->is_number()) return fail(key, "expected a number");
  const double x = v->to_number<double>();
  if (!(x >= min && x <= max)) {
    return fail(key, "expected a number in [" + shortest(min) + ", " + shortest(max) + "], got " +
                         shortest(x));
  }
  *out = x;
}

void Fields::optional_bool(std::string_view key, bool* out) {
  const json::value* v = get(key);
  if (v == nullptr || v->is_null()) return;
  if (!v->is_bool()) return fail(key, "expected true or false");
  *out = v->as_bool();
}

void Fields::optional_string_list(std::string_view key, std::vector<std::string>* out, std::size_t max) {
  const json::value* v = get(key);
  if (v == nullptr || v->is_null()) return;
  if (v->is_string()) {
    out->push_back(std::string(v->as_string()));
  } else if (v->is_array() && v->as_array().size() <= max) {
    for (const json::value& s : v->as_array()) {
      if (!s.is_string()) return fail(key, "expected strings");
      out->push_back(std::string(s.as_string()));
    }
  } else {
    return fail(key, "expected a string or an array of at most " + std::to_string(max) + " strings");
  }
  for (const std::string& s : *out) {
    if (s.empty()) return fail(key, "empty stop string");
  }
}

}  // namespace modelpool::server
