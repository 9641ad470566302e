#include "backends/llama/context_prefix_cache.h"

#include <optional>

namespace modelpool::llama {

Result<std::unique_ptr<ContextPrefixCache>> ContextPrefixCache::create(
    std::shared_ptr<PrefixCache> cache, llama_context* ctx, llama_token probe_token) {
  auto layout = probe_layout(ctx, probe_token);
  if (!layout.ok()) return layout.status();
  return std::unique_ptr<ContextPrefixCache>(
      new ContextPrefixCache(std::move(cache), ctx, std::move(*layout)));
}

std::vector<BlockHash> ContextPrefixCache::prompt_hashes(std::span<const llama_token> prompt) const {
  if (prompt.empty()) return {};
  return cache_->hashes(prompt, (prompt.size() - 1) / cache_->block_tokens());
}

std::size_t ContextPrefixCache::restore(llama_seq_id seq, std::span<const llama_token> prompt,
                                        std::span<const BlockHash> hashes) {
  std::vector<KvBlockRef> blocks = cache_->lookup(prompt, hashes);
  std::size_t restored = 0;
  if (!blocks.empty() &&
      write_prefix(ctx_, seq, layout_, blocks, cache_->block_tokens(), state_).ok()) {
    restored = blocks.size() * cache_->block_tokens();
  }
  cache_->count_lookup(restored, prompt.size() - restored);
  return restored;
}

void ContextPrefixCache::save_later(llama_seq_id seq, std::span<const llama_token> tokens) {
  std::vector<BlockHash> hashes = cache_->hashes(tokens);
  const std::size_t first = cache_->cached_blocks(tokens, hashes);
  if (first == hashes.size()) return;
  auto state = std::make_shared<std::vector<std::uint8_t>>(llama_state_seq_get_size(ctx_, seq));
  if (state->empty() || llama_state_seq_get_data(ctx_, state->data(), state->size(), seq) != state->size()) {
    return;
  }
  // Parsed on the writer thread, once, on the first block it asks for.
  struct Parsed {
    std::shared_ptr<std::vector<std::uint8_t>> bytes;
    std::optional<Result<SeqKv>> kv;
  };
  auto parsed = std::make_shared<Parsed>(Parsed{std::move(state), std::nullopt});
  const std::size_t b = cache_->block_tokens();
  cache_->insert_later(
      std::vector<llama_token>(tokens.begin(), tokens.end()), std::move(hashes), first,
      [parsed, b, layout = layout_](std::size_t i, std::vector<std::uint8_t>& out) {
        if (!parsed->kv) parsed->kv = SeqKv::parse(*parsed->bytes);
        const Result<SeqKv>& kv = *parsed->kv;
        return kv.ok() && kv->layout().same_rows(layout) &&
               kv->rows(static_cast<llama_pos>(i * b), b, out);
      });
}

void ContextPrefixCache::save(llama_seq_id seq, std::span<const llama_token> tokens) {
  const std::vector<BlockHash> hashes = cache_->hashes(tokens);
  const std::size_t first = cache_->cached_blocks(tokens, hashes);
  if (first == hashes.size()) return;
  auto state = SeqKv::read(ctx_, seq, state_);
  if (!state.ok() || !state->layout().same_rows(layout_)) return;
  const std::size_t b = cache_->block_tokens();
  cache_->insert(tokens, hashes, first, [&](std::size_t i, std::vector<std::uint8_t>& out) {
    return state->rows(static_cast<llama_pos>(i * b), b, out);
  });
}

}  // namespace modelpool::llama
