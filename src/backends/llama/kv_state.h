// KV rows between a llama context and the prefix cache, through llama.cpp's
// per-sequence state (llama_state_seq_get_data / llama_state_seq_set_data).
//
// Each sequence of a batched context has its own KV stream (kv_unified =
// false: a step's results do not depend on the other sequences, and
// attention reads only the sequence's own cells), and llama.cpp copies KV
// between streams only whole. So a cached prefix is copied: out of a
// sequence's state into blocks when it is cached, and from blocks into a
// state written for the new sequence when it is reused. Copying 16 tokens'
// rows costs microseconds where computing them costs a pass over the
// weights.
//
// The state's layout, as the pinned llama.cpp writes it (llama-context.cpp,
// llama-kv-cache.cpp state_write*):
//
//   u32 magic, i32 seq_id, u32 n_stream, then per stream u32 cell_count and,
//   when it is not 0:
//     per cell: i32 pos, u32 n_seq_id (1), i32 seq_id
//     u32 v_trans, u32 n_layer
//     per layer: i32 k_type, u64 k_row_bytes, one K row per cell
//     per layer, v_trans == 0: i32 v_type, u64 v_row_bytes, one V row per cell
//                v_trans == 1: i32 v_type, u32 v_element_bytes, u32 n_embd_v,
//                              then per V component one element per cell
//
// read() checks every length against the bytes it was given, so a layout
// it does not know (another llama.cpp, a model whose cells carry extra
// position data) is an error, never a misread; the prefix cache is then
// off for that context.
//
// KvBlock::rows (prefix_cache.h) holds, per layer, the K rows of the block's
// tokens then their V rows (as rows, whatever v_trans), so a block written
// by one context restores into any context of the same model.
#pragma once

#include <llama.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "backends/llama/prefix_cache.h"
#include "modelpool/status.h"

namespace modelpool::llama {

// What a context's state looks like: constant for a context.
struct KvLayout {
  struct Layer {
    std::int32_t k_type = 0;
    std::uint64_t k_row = 0;  // bytes of one token's K
    std::int32_t v_type = 0;
    std::uint64_t v_row = 0;  // bytes of one token's V
    std::uint32_t v_element = 0;  // v_trans: bytes of one V element
    std::uint32_t n_embd_v = 0;   // v_trans: V elements per token
  };
  std::uint32_t magic = 0;
  std::uint32_t n_stream = 0;
  bool v_trans = false;
  std::vector<Layer> layers;

  // Bytes of one token's rows, all layers: a block holds block_tokens of them.
  std::size_t token_bytes() const;
  // Same rows for a token (the stream count may differ).
  bool same_rows(const KvLayout& other) const;
};

// One sequence's state, read from its context.
class SeqKv {
 public:
  // Reads `seq`'s state from `ctx` into `buffer` (reused between reads).
  // kInternal when llama.cpp gives none or its layout is not the one above.
  static Result<SeqKv> read(llama_context* ctx, llama_seq_id seq, std::vector<std::uint8_t>& buffer);
  // A state read earlier (llama_state_seq_get_data). The SeqKv refers to
  // `state`, which must outlive it. kInternal when its layout is not the
  // one above.
  static Result<SeqKv> parse(std::span<const std::uint8_t> state);

  const KvLayout& layout() const { return layout_; }
  // Writes the rows of positions [first, first + n) to `out` (KvBlock
  // layout). False when one of them is not in the state.
  bool rows(llama_pos first, std::size_t n, std::vector<std::uint8_t>& out) const;

 private:
  SeqKv() = default;
  std::span<const std::uint8_t> blob_;
  KvLayout layout_;
  std::size_t cells_ = 0;
  std::vector<std::int32_t> cell_of_pos_;  // -1: the position is not held
  std::vector<std::size_t> k_at_, v_at_;   // per layer: offset of its first cell's K / V
};

// The layout of `ctx`'s state, found by decoding one token into sequence 0
// and reading it; sequence 0 is empty again afterwards. Errors as
// SeqKv::read, or kInternal when the decode fails.
Result<KvLayout> probe_layout(llama_context* ctx, llama_token token);

// Makes `blocks` (positions 0, 1, ... in order) the whole content of `seq`
// in `ctx`. kInternal when llama.cpp refuses the state (the sequence is
// then empty) or a block's rows do not match `layout`.
Status write_prefix(llama_context* ctx, llama_seq_id seq, const KvLayout& layout,
                    std::span<const KvBlockRef> blocks, std::size_t block_tokens,
                    std::vector<std::uint8_t>& buffer);

}  // namespace modelpool::llama
