#include "server/utf8.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "server/api.h"

namespace modelpool::server {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

TEST(Utf8Test, WellFormedTextIsKept) {
  for (std::string_view text : std::initializer_list<std::string_view>{
           "", "plain ascii", "caf\xC3\xA9", "\xE2\x82\xAC 20", "\xF0\x9F\x98\x80", "\xED\x9F\xBF",
           "\xF4\x8F\xBF\xBF", std::string_view("nul\0inside", 10)}) {
    EXPECT_TRUE(is_utf8(text)) << text;
    EXPECT_EQ(valid_utf8(text), text);
  }
}

TEST(Utf8Test, IllFormedSequencesAreReplaced) {
  struct Case {
    std::string_view in;
    std::string out;
  };
  const std::string r(kReplacement);
  for (const Case& c : {
           Case{"\xFF", r},  // never a UTF-8 byte
           Case{"a\x80"
                "b",
                "a" + r + "b"},                      // a lone continuation byte
           Case{"\xC0\xAF", r + r},                  // an overlong '/'
           Case{"\xE0\x80\xAF", r + r + r},          // an overlong '/' in three bytes
           Case{"\xED\xA0\x80", r + r + r},          // a surrogate (U+D800)
           Case{"\xF4\x90\x80\x80", r + r + r + r},  // past U+10FFFF
           Case{"\xE2\x82", r},                      // cut short: one maximal subpart
           Case{"\xF0\x9F\x98"
                "x",
                r + "x"},                         // cut short before other text
           Case{"\xC3\xA9\xC3", "\xC3\xA9" + r},  // well-formed, then cut short
       }) {
    EXPECT_FALSE(is_utf8(c.in)) << c.in;
    EXPECT_EQ(valid_utf8(c.in), c.out) << c.in;
    EXPECT_TRUE(is_utf8(valid_utf8(c.in)));
  }
}

// Found by fuzzing (fuzz/crashes/http, fuzz/crashes/kserve): an error that
// quoted a request target or header with bytes that are not UTF-8 was
// answered as a JSON body that was not JSON.
TEST(Utf8Test, ErrorBodiesAreJsonWhateverTheMessageQuotes) {
  const std::string message = "no route /v2\xFF\xFE/x";
  for (ErrorFormat format : {ErrorFormat::kOpenAI, ErrorFormat::kKServe}) {
    const std::string body = error_body(format, message, "not_found_error", 404);
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(body, ec);
    ASSERT_FALSE(ec) << body;
    const boost::json::value& text =
        format == ErrorFormat::kKServe ? v.at("error") : v.at("error").at("message");
    EXPECT_EQ(text.as_string(),
              "no route /v2" + std::string(kReplacement) + std::string(kReplacement) + "/x");
  }
}

}  // namespace
}  // namespace modelpool::server
