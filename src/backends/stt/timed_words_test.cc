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
