#include "backends/llama/prefix_cache.h"

#include <algorithm>
#include <cstring>

namespace modelpool::llama {
namespace {

// splitmix64's finalizer: every input bit moves every output bit.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

BlockHash hash_block(BlockHash parent, std::span<const llama_token> tokens) {
  std::uint64_t h = mix(parent ^ 0x6d6f64656c706f6fULL);
  for (const llama_token t : tokens) h = mix(h ^ static_cast<std::uint32_t>(t));
  // 0 means "no parent": never a block's own hash.
  return h == 0 ? 1 : h;
}

}  // namespace

PrefixCache::PrefixCache(const PrefixCacheOptions& options) : options_(options) {
  counts_.max_tokens = options.max_tokens;
  counts_.max_bytes = options.max_bytes;
}

PrefixCache::~PrefixCache() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::vector<BlockHash> PrefixCache::hashes(std::span<const llama_token> tokens,
                                           std::size_t max_blocks) const {
  const std::size_t b = options_.block_tokens;
  const std::size_t n = std::min(tokens.size() / b, max_blocks);
  std::vector<BlockHash> out;
  out.reserve(n);
  BlockHash parent = 0;
  for (std::size_t i = 0; i < n; ++i) {
    parent = hash_block(parent, tokens.subspan(i * b, b));
    out.push_back(parent);
  }
  return out;
}

bool PrefixCache::matches(const KvBlock& block, std::span<const llama_token> tokens,
                          std::size_t index, BlockHash parent) const {
  const std::size_t b = options_.block_tokens;
  return block.parent == parent && block.tokens.size() == b &&
         std::equal(block.tokens.begin(), block.tokens.end(), tokens.begin() + index * b);
}

std::size_t PrefixCache::cached_locked(std::unique_lock<std::mutex>& lock,
                                       std::span<const llama_token> tokens,
                                       std::span<const BlockHash> hashes) const {
  for (;;) {
    BlockHash parent = 0;
    std::size_t n = 0;
    for (; n < hashes.size(); ++n) {
      const auto it = blocks_.find(hashes[n]);
      if (it == blocks_.end() || !matches(*it->second.block, tokens, n, parent)) break;
      parent = hashes[n];
    }
    if (n == hashes.size() || queued_.count(hashes[n]) == 0) return n;
    inserted_.wait(lock);  // the next block is on its way
  }
}

std::vector<KvBlockRef> PrefixCache::lookup(std::span<const llama_token> tokens,
                                            std::span<const BlockHash> hashes) {
  std::unique_lock lock(mu_);
  const std::size_t n = cached_locked(lock, tokens, hashes);
  std::vector<KvBlockRef> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(blocks_.at(hashes[i]).block);
  touch_locked(hashes, n);
  return out;
}

std::size_t PrefixCache::cached_blocks(std::span<const llama_token> tokens,
                                       std::span<const BlockHash> hashes) const {
  std::unique_lock lock(mu_);
  return cached_locked(lock, tokens, hashes);
}

void PrefixCache::insert_later(std::vector<llama_token> tokens, std::vector<BlockHash> hashes,
                               std::size_t first, RowsOf rows_of) {
  {
    std::lock_guard lock(mu_);
    if (pending_.size() >= kMaxPending || stopping_) return;
    if (!writer_.joinable()) writer_ = std::thread([this] { write_loop(); });
    for (std::size_t i = first; i < hashes.size(); ++i) queued_.insert(hashes[i]);
    pending_.push_back({std::move(tokens), std::move(hashes), first, std::move(rows_of)});
  }
  work_.notify_one();
}

void PrefixCache::write_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, and nothing left
    PendingInsert job = std::move(pending_.front());
    pending_.pop_front();
    ++writing_;
    lock.unlock();
    insert(job.tokens, job.hashes, job.first, job.rows_of);
    job.rows_of = nullptr;  // frees the state it read, outside the lock
    lock.lock();
    for (std::size_t i = job.first; i < job.hashes.size(); ++i) {
      queued_.erase(queued_.find(job.hashes[i]));
    }
    --writing_;
    inserted_.notify_all();
  }
}

void PrefixCache::flush() {
  std::unique_lock lock(mu_);
  inserted_.wait(lock, [&] { return pending_.empty() && writing_ == 0; });
}

void PrefixCache::insert(std::span<const llama_token> tokens, std::span<const BlockHash> hashes,
                         std::size_t first, const RowsOf& rows_of) {
  const std::size_t b = options_.block_tokens;
  if (options_.max_tokens < b || options_.max_bytes == 0) return;
  std::size_t done = first;
  for (std::size_t i = first; i < hashes.size(); ++i) {
    const BlockHash parent = i == 0 ? 0 : hashes[i - 1];
    {
      std::lock_guard lock(mu_);
      const auto it = blocks_.find(hashes[i]);
      if (it != blocks_.end()) {
        if (!matches(*it->second.block, tokens, i, parent)) break;  // a collision
        done = i + 1;
        continue;
      }
    }
    // Copied outside the lock: a block is up to block_tokens rows per layer.
    auto block = std::make_shared<KvBlock>();
    block->hash = hashes[i];
    block->parent = parent;
    block->tokens.assign(tokens.begin() + i * b, tokens.begin() + (i + 1) * b);
    if (!rows_of(i, block->rows)) break;
    std::lock_guard lock(mu_);
    if (blocks_.count(hashes[i]) != 0) {  // another context inserted it meanwhile
      done = i + 1;
      continue;
    }
    bytes_ += block->rows.size();
    lru_.push_front(hashes[i]);
    blocks_.emplace(hashes[i], Entry{std::move(block), lru_.begin()});
    done = i + 1;
  }
  std::lock_guard lock(mu_);
  // The chain from its root, so its parents are the most recent.
  touch_locked(hashes, std::min(done, hashes.size()));
  evict_locked();
}

void PrefixCache::touch_locked(std::span<const BlockHash> hashes, std::size_t n) {
  for (std::size_t i = n; i-- > 0;) {
    const auto it = blocks_.find(hashes[i]);
    if (it != blocks_.end()) lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
}

void PrefixCache::evict_locked() {
  const std::size_t max_blocks = options_.max_tokens / options_.block_tokens;
  while (!lru_.empty() && (blocks_.size() > max_blocks || bytes_ > options_.max_bytes)) {
    const auto it = blocks_.find(lru_.back());
    bytes_ -= it->second.block->rows.size();
    blocks_.erase(it);
    lru_.pop_back();
    ++counts_.evictions;
  }
}

void PrefixCache::count_lookup(std::size_t hit_tokens, std::size_t miss_tokens) {
  std::lock_guard lock(mu_);
  counts_.hit_tokens += hit_tokens;
  counts_.miss_tokens += miss_tokens;
}

PrefixCacheStats PrefixCache::stats() const {
  std::lock_guard lock(mu_);
  PrefixCacheStats s = counts_;
  s.tokens = blocks_.size() * options_.block_tokens;
  s.bytes = bytes_;
  return s;
}

}  // namespace modelpool::llama
