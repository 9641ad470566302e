// Reading a JSON request body field by field, keeping the first error and
// naming the field in it ("max_tokens: expected an integer in [1, 1048576]").
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "modelpool/status.h"

namespace modelpool::server {

// The body as a JSON object, or kInvalidArgument saying why not.
Result<boost::json::object> parse_object(std::string_view body);

class Fields {
 public:
  explicit Fields(const boost::json::object& o) : o_(o) {}

  // The field, or null when absent.
  const boost::json::value* get(std::string_view key) const { return o_.if_contains(key); }

  void required_string(std::string_view key, std::string* out);
  void optional_int(std::string_view key, std::int64_t* out, std::int64_t min, std::int64_t max);
  void optional_number(std::string_view key, double* out, double min, double max);
  void optional_bool(std::string_view key, bool* out);
  // A string or an array of at most `max` strings.
  void optional_string_list(std::string_view key, std::vector<std::string>* out, std::size_t max);
  void fail(std::string_view key, const std::string& why);
  // Keeps `error` unless an error is already kept (a nested object's).
  void fail_with(const Status& error) {
    if (error_.ok()) error_ = error;
  }
  // Refuses the first key not in `known` whose value is not null (null
  // counts as absent): "<key>: not supported by this server". `where`
  // prefixes the name, for nested objects ("stream_options.").
  void only(std::initializer_list<std::string_view> known, std::string_view where = "");

  Status status() const { return error_; }

 private:
  const boost::json::object& o_;
  Status error_;
};

}  // namespace modelpool::server
