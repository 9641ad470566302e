#include "backends/llama/kv_state.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "backends/llama/sequence.h"

namespace modelpool::llama {
namespace {

// Reads fixed-size fields from a state, never past its end.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  template <typename T>
  bool read(T* out) {
    if (bytes_.size() - at_ < sizeof(T)) return false;
    std::memcpy(out, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return true;
  }
  bool skip(std::size_t n) {
    if (bytes_.size() - at_ < n) return false;
    at_ += n;
    return true;
  }
  std::size_t at() const { return at_; }
  bool done() const { return at_ == bytes_.size(); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

template <typename T>
void put(std::vector<std::uint8_t>& out, const T& v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

Status unknown_layout(const std::string& what) {
  return internal_error("llama.cpp's sequence state has a layout the prefix cache does not know (" +
                        what + ")");
}

}  // namespace

std::size_t KvLayout::token_bytes() const {
  std::size_t n = 0;
  for (const Layer& l : layers) n += l.k_row + l.v_row;
  return n;
}

bool KvLayout::same_rows(const KvLayout& o) const {
  if (v_trans != o.v_trans || layers.size() != o.layers.size()) return false;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& a = layers[i];
    const Layer& b = o.layers[i];
    if (a.k_type != b.k_type || a.k_row != b.k_row || a.v_type != b.v_type || a.v_row != b.v_row) {
      return false;
    }
  }
  return true;
}

Result<SeqKv> SeqKv::read(llama_context* ctx, llama_seq_id seq, std::vector<std::uint8_t>& buffer) {
  const std::size_t size = llama_state_seq_get_size(ctx, seq);
  if (size == 0) return internal_error("llama.cpp gave no state for sequence " + std::to_string(seq));
  buffer.resize(size);
  if (llama_state_seq_get_data(ctx, buffer.data(), buffer.size(), seq) != size) {
    return internal_error("llama.cpp could not copy the state of sequence " + std::to_string(seq));
  }
  return parse(buffer);
}

Result<SeqKv> SeqKv::parse(std::span<const std::uint8_t> state) {
  SeqKv s;
  s.blob_ = state;
  Reader r(s.blob_);
  std::int32_t seq = 0;
  if (!r.read(&s.layout_.magic) || !r.read(&seq) || !r.read(&s.layout_.n_stream)) {
    return unknown_layout("header");
  }
  if (s.layout_.n_stream == 0 || s.layout_.n_stream > 4096) return unknown_layout("stream count");
  std::uint32_t cells = 0;
  for (std::uint32_t stream = 0; stream < s.layout_.n_stream; ++stream) {
    std::uint32_t count = 0;
    if (!r.read(&count)) return unknown_layout("cell count");
    if (count == 0) continue;
    if (cells != 0) return unknown_layout("cells in two streams");
    cells = count;
    for (std::uint32_t c = 0; c < count; ++c) {
      std::int32_t pos = 0, id = 0;
      std::uint32_t n_seq = 0;
      if (!r.read(&pos) || !r.read(&n_seq) || n_seq != 1 || !r.read(&id) || id != seq || pos < 0) {
        return unknown_layout("cell " + std::to_string(c));
      }
      if (static_cast<std::size_t>(pos) >= s.cell_of_pos_.size()) {
        s.cell_of_pos_.resize(static_cast<std::size_t>(pos) + 1, -1);
      }
      s.cell_of_pos_[static_cast<std::size_t>(pos)] = static_cast<std::int32_t>(c);
    }
    std::uint32_t v_trans = 0, n_layer = 0;
    if (!r.read(&v_trans) || v_trans > 1 || !r.read(&n_layer) || n_layer == 0 || n_layer > 4096) {
      return unknown_layout("layers");
    }
    s.layout_.v_trans = v_trans == 1;
    s.layout_.layers.resize(n_layer);
    for (KvLayout::Layer& l : s.layout_.layers) {
      if (!r.read(&l.k_type) || !r.read(&l.k_row) || l.k_row == 0) return unknown_layout("K rows");
      s.k_at_.push_back(r.at());
      if (!r.skip(l.k_row * count)) return unknown_layout("K data");
    }
    for (KvLayout::Layer& l : s.layout_.layers) {
      if (!r.read(&l.v_type)) return unknown_layout("V type");
      if (!s.layout_.v_trans) {
        if (!r.read(&l.v_row) || l.v_row == 0) return unknown_layout("V rows");
      } else {
        if (!r.read(&l.v_element) || !r.read(&l.n_embd_v) || l.v_element == 0 || l.n_embd_v == 0) {
          return unknown_layout("V elements");
        }
        l.v_row = std::uint64_t{l.v_element} * l.n_embd_v;
      }
      s.v_at_.push_back(r.at());
      if (!r.skip(l.v_row * count)) return unknown_layout("V data");
    }
  }
  if (!r.done()) return unknown_layout("trailing bytes");
  s.cells_ = cells;
  return s;
}

bool SeqKv::rows(llama_pos first, std::size_t n, std::vector<std::uint8_t>& out) const {
  std::vector<std::int32_t> cells(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto pos = static_cast<std::size_t>(first) + i;
    if (pos >= cell_of_pos_.size() || cell_of_pos_[pos] < 0) return false;
    cells[i] = cell_of_pos_[pos];
  }
  out.resize(n * layout_.token_bytes());
  std::uint8_t* w = out.data();
  for (std::size_t l = 0; l < layout_.layers.size(); ++l) {
    const KvLayout::Layer& layer = layout_.layers[l];
    for (const std::int32_t c : cells) {
      std::memcpy(w, blob_.data() + k_at_[l] + c * layer.k_row, layer.k_row);
      w += layer.k_row;
    }
    for (const std::int32_t c : cells) {
      if (!layout_.v_trans) {
        std::memcpy(w, blob_.data() + v_at_[l] + c * layer.v_row, layer.v_row);
        w += layer.v_row;
        continue;
      }
      // Transposed: component j of every cell lies together.
      for (std::uint32_t j = 0; j < layer.n_embd_v; ++j) {
        std::memcpy(w, blob_.data() + v_at_[l] + (std::size_t{j} * cells_ + c) * layer.v_element,
                    layer.v_element);
        w += layer.v_element;
      }
    }
  }
  return true;
}

Result<KvLayout> probe_layout(llama_context* ctx, llama_token token) {
  llama_batch batch = llama_batch_init(1, 0, 1);
  add_to_batch(batch, token, 0, 0, true);
  const int rc = llama_decode(ctx, batch);
  llama_batch_free(batch);
  if (rc != 0) {
    llama_memory_seq_rm(llama_get_memory(ctx), 0, -1, -1);
    return internal_error("llama_decode failed while probing the KV layout (" + std::to_string(rc) + ")");
  }
  std::vector<std::uint8_t> buffer;
  auto state = SeqKv::read(ctx, 0, buffer);
  llama_memory_seq_rm(llama_get_memory(ctx), 0, -1, -1);
  if (!state.ok()) return state.status();
  return state->layout();
}

Status write_prefix(llama_context* ctx, llama_seq_id seq, const KvLayout& layout,
                    std::span<const KvBlockRef> blocks, std::size_t block_tokens,
                    std::vector<std::uint8_t>& out) {
  const std::size_t token_bytes = layout.token_bytes();
  for (const KvBlockRef& b : blocks) {
    if (b->rows.size() != block_tokens * token_bytes) {
      return internal_error("a cached block's rows do not match this context's KV layout");
    }
  }
  const auto n = static_cast<std::uint32_t>(blocks.size() * block_tokens);
  out.clear();
  out.reserve(64 + n * (12 + token_bytes) + layout.layers.size() * 32);
  put(out, layout.magic);
  put(out, static_cast<std::int32_t>(seq));
  put(out, layout.n_stream);
  // llama.cpp restores a single sequence's cells into that sequence's own
  // stream whichever stream they are listed under: the first here.
  put(out, n);
  for (std::uint32_t pos = 0; pos < n; ++pos) {
    put(out, static_cast<std::int32_t>(pos));
    put(out, std::uint32_t{1});
    put(out, static_cast<std::int32_t>(seq));
  }
  put(out, std::uint32_t{layout.v_trans ? 1u : 0u});
  put(out, static_cast<std::uint32_t>(layout.layers.size()));
  // Offsets of each layer's K and V inside a block's rows.
  std::vector<std::size_t> k_in_block, v_in_block;
  std::size_t at = 0;
  for (const KvLayout::Layer& l : layout.layers) {
    k_in_block.push_back(at);
    at += l.k_row * block_tokens;
    v_in_block.push_back(at);
    at += l.v_row * block_tokens;
  }
  for (std::size_t l = 0; l < layout.layers.size(); ++l) {
    const KvLayout::Layer& layer = layout.layers[l];
    put(out, layer.k_type);
    put(out, layer.k_row);
    for (const KvBlockRef& b : blocks) {
      const std::uint8_t* k = b->rows.data() + k_in_block[l];
      out.insert(out.end(), k, k + layer.k_row * block_tokens);
    }
  }
  for (std::size_t l = 0; l < layout.layers.size(); ++l) {
    const KvLayout::Layer& layer = layout.layers[l];
    put(out, layer.v_type);
    if (!layout.v_trans) {
      put(out, layer.v_row);
      for (const KvBlockRef& b : blocks) {
        const std::uint8_t* v = b->rows.data() + v_in_block[l];
        out.insert(out.end(), v, v + layer.v_row * block_tokens);
      }
      continue;
    }
    put(out, layer.v_element);
    put(out, layer.n_embd_v);
    const std::size_t base = out.size();
    out.resize(base + std::size_t{n} * layer.v_row);
    std::size_t cell = 0;
    for (const KvBlockRef& b : blocks) {
      for (std::size_t t = 0; t < block_tokens; ++t, ++cell) {
        const std::uint8_t* row = b->rows.data() + v_in_block[l] + t * layer.v_row;
        for (std::uint32_t j = 0; j < layer.n_embd_v; ++j) {
          std::memcpy(out.data() + base + (std::size_t{j} * n + cell) * layer.v_element,
                      row + std::size_t{j} * layer.v_element, layer.v_element);
        }
      }
    }
  }
  for (std::uint32_t s = 1; s < layout.n_stream; ++s) put(out, std::uint32_t{0});
  if (llama_state_seq_set_data(ctx, out.data(), out.size(), seq) != out.size()) {
    llama_memory_seq_rm(llama_get_memory(ctx), seq, -1, -1);
    return internal_error("llama.cpp refused a cached prefix of " + std::to_string(n) + " tokens");
  }
  return {};
}

}  // namespace modelpool::llama
