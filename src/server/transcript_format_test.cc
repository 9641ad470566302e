#include "server/transcript_format.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace modelpool::server {
namespace {

namespace json = boost::json;

speech::Transcript two_segments() {
  speech::Transcript t;
  t.text = "Hello there. General Kenobi!";
  t.language = "en";
  t.duration = 3.7f;  // as it comes out of an FP32 tensor
  t.segments = {{0, 1.5, " Hello there."}, {1.5f, 3723.0456, " General Kenobi!"}};
  t.words = {{0, 0.5, "Hello"}, {0.5, 1.5, "there."}};
  return t;
}

TEST(TranscriptFormatTest, NamesTheFormats) {
  for (const auto& [name, format] : {std::pair{"json", TranscriptFormat::kJson},
                                     {"text", TranscriptFormat::kText},
                                     {"srt", TranscriptFormat::kSrt},
                                     {"vtt", TranscriptFormat::kVtt},
                                     {"verbose_json", TranscriptFormat::kVerboseJson}}) {
    Result<TranscriptFormat> f = find_transcript_format(name);
    ASSERT_TRUE(f.ok()) << name;
    EXPECT_EQ(*f, format) << name;
  }
  Result<TranscriptFormat> f = find_transcript_format("xml");
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      f.status().message(),
      "response_format: 'xml' is not supported; supported: json, text, srt, verbose_json, vtt");
  EXPECT_FALSE(find_transcript_format("JSON").ok());
}

TEST(TranscriptFormatTest, JsonHoldsTheTextOnly) {
  const RenderedTranscript r = render_transcript(two_segments(), TranscriptFormat::kJson, true);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"text":"Hello there. General Kenobi!"})");
  speech::Transcript quoted;
  quoted.text = "a \"quote\"\n\\ é";
  EXPECT_EQ(json::parse(render_transcript(quoted, TranscriptFormat::kJson, false).body)
                .at("text")
                .as_string(),
            quoted.text);
}

TEST(TranscriptFormatTest, TextIsTheTextAndANewline) {
  const RenderedTranscript r = render_transcript(two_segments(), TranscriptFormat::kText, false);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, "Hello there. General Kenobi!\n");
}

TEST(TranscriptFormatTest, SrtNumbersItsCuesWithCommaMilliseconds) {
  const RenderedTranscript r = render_transcript(two_segments(), TranscriptFormat::kSrt, false);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body,
            "1\n"
            "00:00:00,000 --> 00:00:01,500\n"
            "Hello there.\n"
            "\n"
            "2\n"
            "00:00:01,500 --> 01:02:03,046\n"
            "General Kenobi!\n"
            "\n");
}

TEST(TranscriptFormatTest, VttHasItsHeaderAndDotMilliseconds) {
  const RenderedTranscript r = render_transcript(two_segments(), TranscriptFormat::kVtt, false);
  EXPECT_EQ(r.content_type, "text/vtt; charset=utf-8");
  EXPECT_EQ(r.body,
            "WEBVTT\n"
            "\n"
            "00:00:00.000 --> 00:00:01.500\n"
            "Hello there.\n"
            "\n"
            "00:00:01.500 --> 01:02:03.046\n"
            "General Kenobi!\n"
            "\n");
}

TEST(TranscriptFormatTest, CuesCannotBeBrokenByTheirText) {
  speech::Transcript t;
  t.duration = 100 * 3600 + 0.25;  // hours past two digits
  t.segments = {
      {0, 1, "  first line\r\n\r\n  --> second line \n"}, {1, 2, " \n "}, {-1, t.duration, "last"}};
  EXPECT_EQ(render_transcript(t, TranscriptFormat::kSrt, false).body,
            "1\n00:00:00,000 --> 00:00:01,000\nfirst line\n-> second line\n\n"
            "2\n00:00:00,000 --> 100:00:00,250\nlast\n\n");
  // Text without segments: one cue over the whole audio.
  t.segments.clear();
  t.text = "all of it";
  t.duration = 2.5;
  EXPECT_EQ(render_transcript(t, TranscriptFormat::kVtt, false).body,
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nall of it\n\n");
  // Nothing said: no cue.
  t.text = "";
  EXPECT_EQ(render_transcript(t, TranscriptFormat::kSrt, false).body, "");
  EXPECT_EQ(render_transcript(t, TranscriptFormat::kVtt, false).body, "WEBVTT\n\n");
}

TEST(TranscriptFormatTest, VerboseJsonHasWhatTheModelGaveAndNoMore) {
  const RenderedTranscript r =
      render_transcript(two_segments(), TranscriptFormat::kVerboseJson, false);
  EXPECT_EQ(r.content_type, "application/json");
  // Times to the millisecond, written as short numbers.
  EXPECT_EQ(
      r.body,
      R"({"task":"transcribe","language":"en","duration":3.7,"text":"Hello there. General Kenobi!",)"
      R"("segments":[{"id":0,"start":0,"end":1.5,"text":" Hello there."},)"
      R"({"id":1,"start":1.5,"end":3723.046,"text":" General Kenobi!"}]})");
  const json::object o = json::parse(r.body).as_object();
  EXPECT_FALSE(o.contains("words"));
  for (const json::value& s : o.at("segments").as_array()) {
    EXPECT_EQ(s.as_object().size(), 4u) << json::serialize(s);  // no invented avg_logprob & co.
  }
}

TEST(TranscriptFormatTest, VerboseJsonHasWordsWhenAskedFor) {
  const json::object o =
      json::parse(render_transcript(two_segments(), TranscriptFormat::kVerboseJson, true).body)
          .as_object();
  ASSERT_TRUE(o.contains("words"));
  const json::array& words = o.at("words").as_array();
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[1].at("word"), "there.");
  EXPECT_EQ(words[1].at("start").to_number<double>(), 0.5);
  EXPECT_EQ(words[1].at("end").to_number<double>(), 1.5);
  // Asked, but the model gave none: an empty list, not a missing key.
  speech::Transcript t;
  const json::object empty =
      json::parse(render_transcript(t, TranscriptFormat::kVerboseJson, true).body).as_object();
  EXPECT_TRUE(empty.at("words").as_array().empty());
  EXPECT_TRUE(empty.at("segments").as_array().empty());
  EXPECT_EQ(empty.at("duration").to_number<double>(), 0);
}

}  // namespace
}  // namespace modelpool::server
