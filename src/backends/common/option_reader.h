// OptionReader: typed access to a ModelSpec's string options, for backends.
//
// Each getter leaves the default in place when the key is absent and records
// the first error (a value of the wrong type or out of range, naming the key);
// finish() also refuses keys nobody asked for, so a typo in a config file is
// an error instead of a silent default.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "modelpool/status.h"

namespace modelpool {

class OptionReader {
 public:
  OptionReader(const std::map<std::string, std::string>& options, std::string context)
      : options_(options), context_(std::move(context)) {}

  void get(std::string_view key, std::int64_t* out, std::int64_t min, std::int64_t max);
  void get(std::string_view key, double* out, double min, double max);
  void get(std::string_view key, bool* out);
  // A string that must be one of `allowed` (any string when empty).
  void get(std::string_view key, std::string* out, std::initializer_list<std::string_view> allowed);

  // The first error, or kInvalidArgument naming unknown keys, or ok.
  Status finish() const;

 private:
  const std::string* find(std::string_view key);
  void fail(std::string_view key, const std::string& value, const std::string& expected);

  const std::map<std::string, std::string>& options_;
  std::string context_;
  std::set<std::string, std::less<>> seen_;
  Status error_;
};

}  // namespace modelpool
