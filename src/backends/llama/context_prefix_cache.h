// ContextPrefixCache: one llama context's use of its model's PrefixCache:
// restoring a prompt's cached prefix into a sequence, and caching the blocks
// a sequence computed.
//
// Used from the one thread that drives the context (the batching loop, or
// the exclusive context's caller); the PrefixCache behind it is shared.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/llama/kv_state.h"
#include "backends/llama/prefix_cache.h"

namespace modelpool::llama {

class ContextPrefixCache {
 public:
  // Learns `ctx`'s KV layout (probe_layout, with `probe_token`). Errors as
  // probe_layout: the context then runs without the cache.
  static Result<std::unique_ptr<ContextPrefixCache>> create(std::shared_ptr<PrefixCache> cache,
                                                           llama_context* ctx,
                                                           llama_token probe_token);

  PrefixCache& cache() { return *cache_; }
  std::size_t block_tokens() const { return cache_->block_tokens(); }

  // The hashes of the blocks of `prompt` a sequence may take from the cache:
  // full blocks only, and never the prompt's last token (its logits are
  // needed, so it is always computed).
  std::vector<BlockHash> prompt_hashes(std::span<const llama_token> prompt) const;

  // Makes the longest cached prefix of `prompt` (at most hashes.size()
  // blocks) the content of `seq`, and counts the lookup (hits: the tokens
  // restored; misses: the rest of the prompt). Returns the tokens restored;
  // 0 when nothing was cached or llama.cpp refused the state (`seq` is
  // empty then).
  std::size_t restore(llama_seq_id seq, std::span<const llama_token> prompt,
                      std::span<const BlockHash> hashes);

  // Caches the full blocks of `tokens` not cached yet; `seq` holds their KV
  // at positions 0, 1, ... Nothing is read from the context when every
  // block is cached already.
  void save(llama_seq_id seq, std::span<const llama_token> tokens);
  // save(), but only the copy of `seq`'s state out of the context happens
  // now; the cache's writer thread cuts it into blocks (PrefixCache::
  // insert_later), so the calling loop pays one memcpy of the sequence's
  // KV instead of the whole insert.
  void save_later(llama_seq_id seq, std::span<const llama_token> tokens);

 private:
  ContextPrefixCache(std::shared_ptr<PrefixCache> cache, llama_context* ctx, KvLayout layout)
      : cache_(std::move(cache)), ctx_(ctx), layout_(std::move(layout)) {}

  std::shared_ptr<PrefixCache> cache_;
  llama_context* ctx_;
  const KvLayout layout_;
  std::vector<std::uint8_t> state_;  // reused for reads and writes
};

}  // namespace modelpool::llama
