#include "server/multipart.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace modelpool::server {
namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

void expect_refused(const Status& s, std::string_view needle) {
  ASSERT_FALSE(s.ok()) << "accepted; want an error with: " << needle;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_TRUE(contains(s.message(), needle)) << s.message() << "\nwant: " << needle;
}

Result<std::vector<FormPart>> parse(const Buffer& body, std::string_view boundary = "XyZ") {
  return parse_form_data(body, boundary);
}

Status refusal(std::string_view body, std::string_view boundary = "XyZ") {
  Result<std::vector<FormPart>> parts = parse(Buffer::copy(body), boundary);
  return parts.ok() ? Status() : parts.status();
}

// The body the OpenAI Node SDK's encoder (form-data-encoder 1.7) writes for
// a file and two fields: a Content-Type on the file part always, and an
// empty line after the last boundary.
constexpr std::string_view kSdkBody =
    "--form-data-boundary-abc123\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"speech.wav\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "RIFF\r\n--form-data-boundary-abc12 is data\r\n"
    "--form-data-boundary-abc123\r\n"
    "Content-Disposition: form-data; name=\"model\"\r\n"
    "\r\n"
    "whisper\r\n"
    "--form-data-boundary-abc123\r\n"
    "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n"
    "\r\n"
    "word\r\n"
    "--form-data-boundary-abc123--\r\n\r\n";

TEST(MultipartTest, ReadsTheBoundaryQuotedOrNot) {
  auto b = form_data_boundary("multipart/form-data; boundary=form-data-boundary-abc123");
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(*b, "form-data-boundary-abc123");
  b = form_data_boundary("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b:c\"");
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(*b, "a b:c");
  b = form_data_boundary("multipart/form-data;boundary=\"q\\\"x\"");  // a quoted-pair
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(*b, "q\"x");
  EXPECT_TRUE(is_form_data(" multipart/form-data ; boundary=x"));
  EXPECT_FALSE(is_form_data("application/json"));
}

TEST(MultipartTest, RefusesABadBoundary) {
  expect_refused(form_data_boundary("application/json").status(), "is not multipart/form-data");
  expect_refused(form_data_boundary("multipart/form-data").status(), "no boundary parameter");
  expect_refused(form_data_boundary("multipart/form-data; boundary=").status(),
                 "no boundary parameter");
  expect_refused(form_data_boundary("multipart/form-data; boundary=\"\"").status(),
                 "no boundary parameter");
  expect_refused(form_data_boundary("multipart/form-data; boundary=\"abc").status(),
                 "unterminated quoted");
  expect_refused(form_data_boundary("multipart/form-data; boundary").status(),
                 "'boundary' has no value");
  expect_refused(
      form_data_boundary("multipart/form-data; boundary=" + std::string(71, 'a')).status(),
      "71 characters long; at most 70");
  expect_refused(form_data_boundary("multipart/form-data; boundary=\"ab \"").status(),
                 "a space at its end");
  expect_refused(form_data_boundary("multipart/form-data; boundary=a; boundary=b").status(),
                 "given twice");
}

TEST(MultipartTest, PartsAreSlicesOfTheBody) {
  const Buffer body = Buffer::copy(kSdkBody);
  auto parts = parse(body, "form-data-boundary-abc123");
  ASSERT_TRUE(parts.ok()) << parts.status().to_string();
  ASSERT_EQ(parts->size(), 3u);
  const FormPart& file = (*parts)[0];
  EXPECT_EQ(file.name, "file");
  EXPECT_TRUE(file.has_filename);
  EXPECT_EQ(file.filename, "speech.wav");
  EXPECT_EQ(file.content_type, "application/octet-stream");
  // "--boundary" not followed by CRLF or "--" is data, and so is the CRLF
  // before it; the CRLF before the real delimiter is not.
  EXPECT_EQ(file.data.view(), "RIFF\r\n--form-data-boundary-abc12 is data");
  // No copy: the part views the body's own bytes.
  EXPECT_EQ(file.data.owner(), body.owner());
  EXPECT_GE(file.data.data(), body.data());
  EXPECT_LE(file.data.data() + file.data.size(), body.data() + body.size());
  EXPECT_EQ((*parts)[1].name, "model");
  EXPECT_FALSE((*parts)[1].has_filename);
  EXPECT_TRUE((*parts)[1].content_type.empty());
  EXPECT_EQ((*parts)[1].data.view(), "whisper");
  EXPECT_EQ((*parts)[2].name, "timestamp_granularities[]");
  EXPECT_EQ((*parts)[2].data.view(), "word");
}

TEST(MultipartTest, APreambleAnEpilogueAndPaddingAfterABoundaryAreIgnored) {
  auto parts =
      parse(Buffer::copy("This is a preamble.\r\nIt has --XyZ inside a line.\r\n"
                         "--XyZ \t\r\n"
                         "content-disposition: FORM-DATA; name=a\r\n\r\n"
                         "1\r\n"
                         "--XyZ--\r\nan epilogue\r\n--XyZ\r\nnot a part"));
  ASSERT_TRUE(parts.ok()) << parts.status().to_string();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "a");
  EXPECT_EQ((*parts)[0].data.view(), "1");
}

TEST(MultipartTest, EmptyPartsDuplicateNamesAndBinaryDataAreKept) {
  const std::string binary("\0\r\n\xff--XyZ\r", 9);
  auto parts =
      parse(Buffer::copy("--XyZ\r\n"
                         "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n"
                         "\r\n"
                         "--XyZ\r\n"
                         "Content-Disposition: form-data; name=\"x[]\"\r\n\r\n"
                         "one\r\n"
                         "--XyZ\r\n"
                         "Content-Disposition: form-data; name=\"x[]\"\r\n\r\n"
                         "two\r\n"
                         "--XyZ\r\n"
                         "Content-Disposition: form-data; name=\"bin\"\r\n"
                         "Content-Transfer-Encoding: binary\r\n"
                         "X-Other: ignored\r\n\r\n" +
                         binary + "\r\n--XyZ--"));
  ASSERT_TRUE(parts.ok()) << parts.status().to_string();
  ASSERT_EQ(parts->size(), 4u);
  EXPECT_EQ((*parts)[0].name, "empty");
  EXPECT_TRUE((*parts)[0].has_filename);
  EXPECT_TRUE((*parts)[0].filename.empty());
  EXPECT_TRUE((*parts)[0].data.empty());
  EXPECT_EQ((*parts)[1].data.view(), "one");
  EXPECT_EQ((*parts)[2].data.view(), "two");
  EXPECT_EQ((*parts)[1].name, (*parts)[2].name);
  EXPECT_EQ((*parts)[3].data.view(), binary);
}

TEST(MultipartTest, NamesAndFilenamesUnquote) {
  auto parts = parse(Buffer::copy(
      "--XyZ\r\n"
      "Content-Disposition: form-data ; filename = \"a \\\"b\\\";c.wav\" ; name=file\r\n"
      "\r\n"
      "x\r\n"
      "--XyZ--\r\n"));
  ASSERT_TRUE(parts.ok()) << parts.status().to_string();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "a \"b\";c.wav");
}

TEST(MultipartTest, NoPartsAtAll) {
  auto parts = parse(Buffer::copy("--XyZ--\r\n"));
  ASSERT_TRUE(parts.ok()) << parts.status().to_string();
  EXPECT_TRUE(parts->empty());
}

TEST(MultipartTest, RefusesATruncatedBody) {
  const std::string head = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
  expect_refused(refusal(head),
                 "multipart part 1 is unterminated: the body ends before a boundary line '--XyZ'");
  expect_refused(refusal(head + "\r\n"), "multipart part 1 is unterminated");
  expect_refused(refusal(head + "\r\n--XyZ"), "multipart part 1 is unterminated");
  expect_refused(refusal(head + "\r\n--XyZ-"), "multipart part 1 is unterminated");
  // A second part that never ends.
  expect_refused(refusal(head + "\r\n--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\n"),
                 "multipart part 2 is unterminated");
  expect_refused(refusal(""), "multipart body has no boundary line '--XyZ'");
}

TEST(MultipartTest, RefusesABodyWithAnotherBoundary) {
  expect_refused(refusal(kSdkBody, "other"), "no boundary line '--other'");
  // The boundary of the header is a prefix of the body's: "--XyZ" followed
  // by "W" is not a boundary line.
  expect_refused(
      refusal("--XyZW\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZW--\r\n"),
      "no boundary line '--XyZ'");
}

TEST(MultipartTest, ABoundaryNotAtALineStartIsData) {
  auto parts =
      parse(Buffer::copy("--XyZ\r\n"
                         "Content-Disposition: form-data; name=a\r\n\r\n"
                         "x--XyZ\r\n\n--XyZ\r--XyZ--\r\n"
                         "--XyZ--"));
  ASSERT_TRUE(parts.ok()) << parts.status().to_string();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].data.view(), "x--XyZ\r\n\n--XyZ\r--XyZ--");
}

TEST(MultipartTest, RefusesMalformedHeaders) {
  auto part = [](std::string_view headers) {
    return refusal("--XyZ\r\n" + std::string(headers) + "\r\n\r\nv\r\n--XyZ--\r\n");
  };
  expect_refused(part("Content-Type: text/plain"),
                 "multipart part 1 has no Content-Disposition header");
  expect_refused(part("Content-Disposition: form-data"),
                 "multipart part 1: Content-Disposition has no name");
  expect_refused(part("Content-Disposition: form-data; filename=\"a.wav\""), "has no name");
  expect_refused(part("Content-Disposition: attachment; name=a"),
                 "Content-Disposition is 'attachment', expected form-data");
  expect_refused(part("Content-Disposition: form-data; name=\"a"), "unterminated quoted value");
  expect_refused(part("Content-Disposition: form-data; name=\"a\" b"),
                 "unexpected text after the quoted value of 'name'");
  expect_refused(part("Content-Disposition: form-data; name=a; name=b"),
                 "parameter 'name' is given twice");
  expect_refused(
      part("Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b"),
      "Content-Disposition is given twice");
  expect_refused(part("Content-Disposition: form-data; name=a\r\nno colon here"),
                 "malformed header line 'no colon here'");
  expect_refused(part("X-Folded: a\r\n b\r\nContent-Disposition: form-data; name=a"),
                 "malformed header line ' b'");
  expect_refused(
      part("Content-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: base64"),
      "Content-Transfer-Encoding 'base64' is not supported");
  // Headers with no empty line after them.
  expect_refused(refusal("--XyZ\r\nContent-Disposition: form-data; name=a\r\n--XyZ--\r\n"),
                 "multipart part 1: its headers do not end with an empty line");
  // Bare LF line ends are not CRLF.
  expect_refused(refusal("--XyZ\nContent-Disposition: form-data; name=a\n\nv\n--XyZ--\n"),
                 "no boundary line");
  expect_refused(refusal("--XyZ\r\nContent-Disposition: form-data; name=a\n\nv\r\n--XyZ--\r\n"),
                 "its headers do not end with an empty line");
  // The second part is the bad one: the message says which.
  expect_refused(refusal("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
                         "--XyZ\r\nContent-Type: text/plain\r\n\r\n2\r\n--XyZ--"),
                 "multipart part 2 has no Content-Disposition");
}

// Every prefix of a body, and the body with bytes changed at random: an
// answer or a refusal, never a read outside the body.
TEST(MultipartTest, SurvivesTruncatedAndDamagedBodies) {
  const std::string good(kSdkBody);
  auto check = [](const std::string& text) {
    const Buffer body = Buffer::copy(text);
    Result<std::vector<FormPart>> parts = parse_form_data(body, "form-data-boundary-abc123");
    if (!parts.ok()) {
      EXPECT_EQ(parts.status().code(), StatusCode::kInvalidArgument);
      return;
    }
    for (const FormPart& p : *parts) {
      EXPECT_GE(p.data.data(), body.data());
      EXPECT_LE(p.data.data() + p.data.size(), body.data() + body.size());
    }
  };
  for (std::size_t n = 0; n < good.size(); ++n) {
    const Buffer prefix = Buffer::copy(good.substr(0, n));
    // Cut before the last boundary's "--": never complete.
    if (n < good.find("--form-data-boundary-abc123--") + 29) {
      EXPECT_FALSE(parse_form_data(prefix, "form-data-boundary-abc123").ok()) << n;
    }
    check(good.substr(0, n));
  }
  std::mt19937 random(42);
  const std::string alphabet = "-\r\n\"; =:abcXYZ";
  for (int round = 0; round < 2000; ++round) {
    std::string damaged = good;
    for (int k = 0; k < 3; ++k) {
      damaged[random() % damaged.size()] = alphabet[random() % alphabet.size()];
    }
    check(damaged);
  }
}

}  // namespace
}  // namespace modelpool::server
