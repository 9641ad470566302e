#include "server/json_parse.h"

#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <string>

namespace modelpool::server {

namespace json = boost::json;

namespace {

// boost::json's own value-building handler (detail::handler), except for
// on_double, which converts the number's text instead of taking Boost's value.
class ExactHandler {
 public:
  // The names basic_parser requires of a handler.
  // NOLINTBEGIN(readability-identifier-naming)
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();
  // NOLINTEND(readability-identifier-naming)

  json::value_stack stack;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    stack.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return true;
  }
  // A number split across writes arrives in parts; parse_json writes once,
  // but the parts are kept so the handler does not depend on that.
  bool on_number_part(json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number_.clear();
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number_.clear();
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double boost_value, json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    double exact = 0;
    const auto [end, err] = std::from_chars(number_.data(), number_.data() + number_.size(), exact);
    // Out of range (overflow to infinity, underflow to zero): Boost's value
    // has the right sign and magnitude class.
    const bool whole = err == std::errc() && end == number_.data() + number_.size();
    stack.push_double(whole ? exact : boost_value);
    number_.clear();
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::string number_;
};

}  // namespace

json::value parse_json(std::string_view text, boost::system::error_code& ec) {
  json::basic_parser<ExactHandler> parser(json::parse_options{});
  parser.handler().stack.reset();
  const std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) return nullptr;
  if (!parser.done()) {
    ec = json::error::incomplete;
    return nullptr;
  }
  return parser.handler().stack.release();
}

}  // namespace modelpool::server
