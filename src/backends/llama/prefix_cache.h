// PrefixCache: the KV of prompt prefixes, kept after their sequences end and
// shared by every sequence of a model (every slot of a batched context and
// every exclusive context), as vLLM's automatic prefix caching.
//
// A prompt is cut into blocks of `block_tokens` tokens. A block is known by
// a hash of its tokens chained to its parent's hash, so one hash names the
// whole prefix up to the block's end; two prompts that share their first k
// blocks share those k hashes. The cache maps hashes to blocks: the block's
// tokens and parent hash (checked on every lookup, so a hash collision can
// cost a miss but never serve a wrong prefix) and its KV rows, as KvRows
// (kv_state.h) lays them out. Only full blocks are cached.
//
//   PrefixCache cache({.block_tokens = 16, .max_tokens = 8192, .max_bytes = 256 << 20});
//   auto hashes = cache.hashes(prompt);                 // one per full block
//   auto blocks = cache.lookup(prompt, hashes);         // the longest cached prefix
//   ... restore blocks, compute the rest ...
//   cache.insert(prompt, hashes, first_new, rows_of);   // blocks not cached yet
//
// Bounds: at most max_tokens cached tokens and max_bytes of KV rows; an
// insert over either evicts least recently used blocks first. A lookup
// touches the blocks it returns, deepest first, so a parent is always more
// recently used than its children and eviction takes leaves before the
// prefixes they extend.
//
// Inserting blocks means cutting rows out of a copy of a sequence's state:
// insert_later() hands that work to the cache's writer thread, so a decoding
// loop pays only for the copy. A lookup whose next block is queued for
// insertion waits for it (milliseconds), so queued work never turns a hit
// into a miss.
//
// Thread safety: every method may be called from any thread. The lock
// guards the index only; rows are copied outside it (a block's rows are
// shared, immutable, and outlive their eviction while a caller holds them).
#pragma once

#include <llama.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "modelpool/generation.h"

namespace modelpool::llama {

using BlockHash = std::uint64_t;

// One cached block: its place in the chain and its KV rows.
struct KvBlock {
  BlockHash hash = 0;
  BlockHash parent = 0;  // 0: the block starts the prompt
  std::vector<llama_token> tokens;
  std::vector<std::uint8_t> rows;  // KvRows layout, block_tokens tokens
};
using KvBlockRef = std::shared_ptr<const KvBlock>;

struct PrefixCacheOptions {
  std::size_t block_tokens = 16;
  std::size_t max_tokens = 0;  // 0: the cache is off
  std::size_t max_bytes = 0;   // 0: the cache is off
};

class PrefixCache {
 public:
  using RowsOf = std::function<bool(std::size_t, std::vector<std::uint8_t>&)>;

  explicit PrefixCache(const PrefixCacheOptions& options);
  // Finishes the inserts handed to the writer, then stops it.
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  const PrefixCacheOptions& options() const { return options_; }
  std::size_t block_tokens() const { return options_.block_tokens; }

  // The chained hash of every full block of `tokens` (a final partial block
  // has none), at most `max_blocks` of them.
  std::vector<BlockHash> hashes(std::span<const llama_token> tokens,
                                std::size_t max_blocks = SIZE_MAX) const;

  // The cached blocks for hashes[0], hashes[1], ... as long as each is
  // cached and holds exactly the tokens of `tokens` at its place under the
  // block before it. Touches them.
  std::vector<KvBlockRef> lookup(std::span<const llama_token> tokens,
                                 std::span<const BlockHash> hashes);

  // How many of hashes[0], hashes[1], ... are cached, verified as lookup()
  // does, without touching them.
  std::size_t cached_blocks(std::span<const llama_token> tokens,
                            std::span<const BlockHash> hashes) const;

  // Caches blocks `first` .. hashes.size()-1 of `tokens`; rows_of(i, out)
  // writes block i's rows and returns false when it cannot (nothing more is
  // inserted). Blocks already cached are touched, not copied; a block whose
  // hash is taken by other tokens (a collision) ends the insert, so no block
  // is ever cached under a parent that is not its own.
  // REQUIRES: blocks 0 .. first-1 cached (or first == 0).
  void insert(std::span<const llama_token> tokens, std::span<const BlockHash> hashes,
              std::size_t first, const RowsOf& rows_of);
  // insert() on the writer thread; `rows_of` owns what it reads. Dropped
  // (it is a cache) when kMaxPending inserts wait already.
  void insert_later(std::vector<llama_token> tokens, std::vector<BlockHash> hashes,
                    std::size_t first, RowsOf rows_of);
  // Waits until every insert handed to the writer is done.
  void flush();
  static constexpr std::size_t kMaxPending = 16;

  // A lookup's outcome for the statistics: prompt tokens served from the
  // cache and prompt tokens computed.
  void count_lookup(std::size_t hit_tokens, std::size_t miss_tokens);

  PrefixCacheStats stats() const;

 private:
  struct Entry {
    KvBlockRef block;
    std::list<BlockHash>::iterator lru;  // position in lru_
  };
  bool matches(const KvBlock& block, std::span<const llama_token> tokens, std::size_t index,
               BlockHash parent) const;
  // Moves hashes[0..n) to the most recent end, deepest first. REQUIRES: mu_.
  void touch_locked(std::span<const BlockHash> hashes, std::size_t n);
  void evict_locked();
  // How many of hashes[0..] are cached, waiting first for a queued insert
  // of the next one. REQUIRES: `lock` holds mu_.
  std::size_t cached_locked(std::unique_lock<std::mutex>& lock, std::span<const llama_token> tokens,
                            std::span<const BlockHash> hashes) const;
  void write_loop();

  struct PendingInsert {
    std::vector<llama_token> tokens;
    std::vector<BlockHash> hashes;
    std::size_t first = 0;
    RowsOf rows_of;
  };

  const PrefixCacheOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<BlockHash, Entry> blocks_;  // guarded by mu_
  std::list<BlockHash> lru_;                     // guarded by mu_; front: most recent
  std::size_t bytes_ = 0;                        // guarded by mu_
  PrefixCacheStats counts_;                      // guarded by mu_ (the counters)
  // The writer's queue, and the blocks queued or being inserted (with
  // repeats): guarded by mu_. inserted_ wakes lookups waiting for a block
  // and flush(); work_ wakes the writer.
  std::deque<PendingInsert> pending_;
  std::unordered_multiset<BlockHash> queued_;
  std::size_t writing_ = 0;
  bool stopping_ = false;
  mutable std::condition_variable inserted_;
  std::condition_variable work_;
  std::thread writer_;  // started by the first insert_later()
};

}  // namespace modelpool::llama
