// PrefixCache on its own: hashing, lookup, bounds and eviction order, with
// made-up rows (the real KV round trip is prefix_reuse_test.cc).
#include "backends/llama/prefix_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <numeric>
#include <thread>

namespace modelpool::llama {
namespace {

constexpr std::size_t kBlock = 4;

std::vector<llama_token> tokens(std::initializer_list<llama_token> t) { return t; }

std::vector<llama_token> run(llama_token first, std::size_t n) {
  std::vector<llama_token> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Rows that say which block of which prompt they came from.
auto rows_from(llama_token tag, std::size_t bytes = 8) {
  return [tag, bytes](std::size_t i, std::vector<std::uint8_t>& out) {
    out.assign(bytes, static_cast<std::uint8_t>(tag + static_cast<llama_token>(i)));
    return true;
  };
}

PrefixCache make(std::size_t max_tokens, std::size_t max_bytes = 1 << 20) {
  return PrefixCache(PrefixCacheOptions{kBlock, max_tokens, max_bytes});
}

void put(PrefixCache& c, const std::vector<llama_token>& t, llama_token tag) {
  const auto h = c.hashes(t);
  c.insert(t, h, c.cached_blocks(t, h), rows_from(tag));
}

TEST(PrefixCacheTest, HashesAreChainedSoAPrefixSharesOnlyItsOwnBlocks) {
  PrefixCache c = make(64);
  const auto a = c.hashes(tokens({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}));
  const auto b = c.hashes(tokens({1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12}));
  const auto shifted = c.hashes(tokens({5, 6, 7, 8, 1, 2, 3, 4}));
  ASSERT_EQ(a.size(), 3u);  // the partial fourth block has none
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], b[1]);
  EXPECT_NE(a[2], b[2]);
  // The same tokens under another parent are another block.
  EXPECT_NE(shifted[1], a[0]);
  EXPECT_NE(shifted[0], a[1]);
  EXPECT_EQ(c.hashes(tokens({1, 2, 3, 4, 5, 6, 7, 8}), 1).size(), 1u);
}

TEST(PrefixCacheTest, LookupReturnsTheLongestCachedPrefixInOrder) {
  PrefixCache c = make(64);
  const auto prompt = run(100, 12);
  put(c, prompt, 10);
  auto longer = run(100, 12);
  longer.insert(longer.end(), {7, 7, 7, 7, 8});
  const auto h = c.hashes(longer);
  const auto got = c.lookup(longer, h);
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]->hash, h[i]);
    EXPECT_EQ(got[i]->rows[0], 10 + i);
    EXPECT_EQ(got[i]->tokens, std::vector<llama_token>(prompt.begin() + i * kBlock,
                                                       prompt.begin() + (i + 1) * kBlock));
  }
  auto other = run(100, 12);
  other[5] = 0;  // differs in the second block
  EXPECT_EQ(c.lookup(other, c.hashes(other)).size(), 1u);
  EXPECT_EQ(c.lookup(run(0, 8), c.hashes(run(0, 8))).size(), 0u);
}

TEST(PrefixCacheTest, AHashCollisionIsAMissNeverAnotherPromptsBlock) {
  PrefixCache c = make(64);
  const auto a = run(1, 8);
  const auto b = run(50, 8);
  const auto h = c.hashes(a);
  c.insert(a, h, 0, rows_from(1));
  // b looked up, and inserted, under a's hashes: as if its hashes collided.
  EXPECT_TRUE(c.lookup(b, h).empty());
  EXPECT_EQ(c.cached_blocks(b, h), 0u);
  bool asked = false;
  c.insert(b, h, 0, [&](std::size_t, std::vector<std::uint8_t>&) { return asked = true; });
  EXPECT_FALSE(asked);  // a collision ends the insert: nothing cached under a wrong parent
  EXPECT_EQ(c.lookup(a, h).size(), 2u);
}

TEST(PrefixCacheTest, TheTokenBoundEvictsTheLeastRecentlyUsedLeavesFirst) {
  PrefixCache c = make(5 * kBlock);  // five blocks
  const auto a = run(1, 3 * kBlock);
  const auto b = run(500, 3 * kBlock);
  put(c, a, 10);
  // Only a's first block is used again: a's second and third become the oldest.
  const auto a1 = run(1, kBlock + 1);
  EXPECT_EQ(c.lookup(a1, c.hashes(a1)).size(), 1u);
  put(c, b, 20);  // six blocks: one must go
  PrefixCacheStats s = c.stats();
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.tokens, 5 * kBlock);
  // a's deepest block went, never the prefix the others extend.
  EXPECT_EQ(c.cached_blocks(a, c.hashes(a)), 2u);
  EXPECT_EQ(c.cached_blocks(b, c.hashes(b)), 3u);
}

TEST(PrefixCacheTest, TheByteBoundHoldsAndCountsEvictions) {
  PrefixCache c(PrefixCacheOptions{kBlock, 1000, 3 * 100});  // three blocks of 100 bytes
  for (llama_token p = 0; p < 4; ++p) {
    const auto t = run(p * 1000, 2 * kBlock);
    const auto h = c.hashes(t);
    c.insert(t, h, 0, rows_from(p, 100));
  }
  const PrefixCacheStats s = c.stats();
  EXPECT_LE(s.bytes, 300u);
  EXPECT_EQ(s.bytes, 300u);
  EXPECT_EQ(s.evictions, 5u);  // 8 blocks in, 3 kept
  EXPECT_EQ(s.max_bytes, 300u);
}

TEST(PrefixCacheTest, LookupsCountHitAndMissTokens) {
  PrefixCache c = make(64);
  c.count_lookup(32, 8);
  c.count_lookup(0, 20);
  const PrefixCacheStats s = c.stats();
  EXPECT_EQ(s.hit_tokens, 32u);
  EXPECT_EQ(s.miss_tokens, 28u);
}

TEST(PrefixCacheTest, ABoundSmallerThanOneBlockCachesNothing) {
  PrefixCache c = make(kBlock - 1);
  put(c, run(1, 3 * kBlock), 1);
  EXPECT_EQ(c.stats().tokens, 0u);
  EXPECT_TRUE(c.lookup(run(1, 3 * kBlock), c.hashes(run(1, 3 * kBlock))).empty());
}

TEST(PrefixCacheTest, RowsThatCannotBeReadEndTheInsert) {
  PrefixCache c = make(64);
  const auto t = run(1, 3 * kBlock);
  c.insert(t, c.hashes(t), 0, [](std::size_t i, std::vector<std::uint8_t>& out) {
    out.assign(8, 1);
    return i < 1;
  });
  EXPECT_EQ(c.cached_blocks(t, c.hashes(t)), 1u);
}

TEST(PrefixCacheTest, ALookupWaitsForABlockQueuedForTheWriterInsteadOfMissingIt) {
  PrefixCache c = make(64);
  const auto t = run(1, 3 * kBlock);
  std::latch release(1);
  // The writer is held inside the rows of the first block.
  c.insert_later(t, c.hashes(t), 0, [&](std::size_t i, std::vector<std::uint8_t>& out) {
    if (i == 0) release.wait();
    out.assign(8, static_cast<std::uint8_t>(i));
    return true;
  });
  std::atomic<std::size_t> found{99};
  std::thread reader([&] { found = c.lookup(t, c.hashes(t)).size(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(found.load(), 99u);  // still waiting
  release.count_down();
  reader.join();
  EXPECT_EQ(found.load(), 3u);
  // A block that is neither cached nor queued is a miss at once.
  EXPECT_TRUE(c.lookup(run(500, kBlock), c.hashes(run(500, kBlock))).empty());
}

TEST(PrefixCacheTest, FlushWaitsForEveryQueuedInsert) {
  PrefixCache c = make(1024);
  for (llama_token p = 0; p < 10; ++p) {
    const auto t = run(p * 100, 2 * kBlock);
    c.insert_later(t, c.hashes(t), 0, rows_from(p));
  }
  c.flush();
  EXPECT_EQ(c.stats().tokens, 20 * kBlock);
}

}  // namespace
}  // namespace modelpool::llama
