#include "backends/stt/timed_words.h"

#include <gtest/gtest.h>

namespace modelpool::stt {
namespace {

TEST(SttTimedWords, FillersAreNotWords) {
  for (const char* filler : {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "++GARBAGE++", ""}) {
    EXPECT_TRUE(is_filler(filler)) << filler;
  }
  for (const char* word : {"hello", "read(2)", "+", "a"}) EXPECT_FALSE(is_filler(word)) << word;
}

TEST(SttTimedWords, AlternatePronunciationsAreNamedByTheirWord) {
  EXPECT_EQ(base_word("read(2)"), "read");
  EXPECT_EQ(base_word("the(12)"), "the");
  EXPECT_EQ(base_word("read"), "read");
  EXPECT_EQ(base_word("(2)"), "(2)");
  EXPECT_EQ(base_word("a()"), "a()");
  EXPECT_EQ(base_word("x(y)"), "x(y)");
}

TEST(SttTimedWords, FramesBecomeSecondsAndPausesSplitSegments) {
  const std::vector<EngineWord> words = {
      {"<s>", 0, 9},      {"hello", 10, 49},  {"<sil>", 50, 54}, {"world(2)", 55, 99},
      {"<sil>", 100, 149}, {"again", 150, 189}, {"[NOISE]", 190, 199},
      {"and", 230, 249},  {"</s>", 250, 259},
  };
  TimedWords t = timed_words(words, 100);
  ASSERT_EQ(t.words.size(), 4u);
  EXPECT_EQ(t.words[0].text, "hello");
  EXPECT_DOUBLE_EQ(t.words[0].start, 0.10);
  EXPECT_DOUBLE_EQ(t.words[0].end, 0.50);
  EXPECT_EQ(t.words[1].text, "world");
  // A 0.05 s <sil> stays inside a segment; 0.5 s of <sil> splits; so does a
  // 0.4 s gap made of a filler and nothing.
  ASSERT_EQ(t.segments.size(), 3u);
  EXPECT_EQ(t.segments[0].text, "hello world");
  EXPECT_DOUBLE_EQ(t.segments[0].start, 0.10);
  EXPECT_DOUBLE_EQ(t.segments[0].end, 1.00);
  EXPECT_EQ(t.segments[1].text, "again");
  EXPECT_EQ(t.segments[2].text, "and");
  EXPECT_DOUBLE_EQ(t.segments[2].end, 2.50);
}

TEST(SttTimedWords, OnlyFillersMakeNothing) {
  TimedWords t = timed_words({{"<s>", 0, 10}, {"<sil>", 11, 80}, {"</s>", 81, 90}}, 100);
  EXPECT_TRUE(t.words.empty());
  EXPECT_TRUE(t.segments.empty());
}

}  // namespace
}  // namespace modelpool::stt

namespace modelpool::stt {
namespace {

TEST(SttPieces, LongAudioIsCutInItsQuietestStretch) {
  constexpr int kRate = 1000;  // 10 samples a frame keeps the test small
  std::vector<std::int16_t> audio(20 * kRate, 1000);
  for (int i = 6200; i < 6500; ++i) audio[i] = 0;    // a pause 6.2-6.5 s in
  for (int i = 13000; i < 13400; ++i) audio[i] = 0;  // and 13.0-13.4 s
  const std::vector<Piece> pieces = split_at_pauses(audio, kRate, 4, 8);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].begin, 0u);
  EXPECT_GE(pieces[0].end, 6200u);
  EXPECT_LE(pieces[0].end, 6500u);
  EXPECT_EQ(pieces[1].begin, pieces[0].end);
  EXPECT_GE(pieces[1].end, 13000u);
  EXPECT_LE(pieces[1].end, 13400u);
  EXPECT_EQ(pieces[2].end, audio.size());
  EXPECT_EQ(split_at_pauses(std::vector<std::int16_t>(8 * kRate), kRate, 4, 8).size(), 1u);
}

}  // namespace
}  // namespace modelpool::stt
