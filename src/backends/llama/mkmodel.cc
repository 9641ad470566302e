// make_model: writes a llama-architecture GGUF with deterministic random
// weights and the llama SPM tokenizer, so tests and benchmarks need no
// downloaded model.
//
// Presets (f16 matrices, f32 norms, the vocab file's 32000 tokens):
//
//   preset  n_embd  layers  heads (kv)  n_ff  context  params    file bytes
//   tiny        64       2      4 (4)    128     2048    4.18M       9,082,496
//   small      512       8      8 (8)   1536     2048   60.04M     120,825,344
//   medium    2048       8     16 (16)  5632     2048  542.15M   1,085,095,424 (1.01 GiB)
//
// Weights are ternary: each matrix entry is -s, 0 or +s with equal odds, s
// the power of two nearest to sqrt(1.5)/sqrt(fan_in) (entry std about
// 1/sqrt(fan_in), which keeps activations near 1), drawn from one splitmix64
// stream per tensor seeded by (seed, tensor index): the same seed and preset
// give the same bytes. Token embeddings are ternary with s = 1.
//
// Why ternary powers of two: llama.cpp's CPU backend multiplies one token
// (decoding alone) and a batch of tokens with different kernels, which sum in
// different orders. With uniform random weights the f32 results differ in the
// last bit, the f16 rounding of the next layer's inputs turns that into logit
// differences of ~1e-3 of their spread, and greedy decoding flipped a token
// in 2% of tiny's 64-token sequences between "alone" and "batched with 15
// others" (9% of small's 32-token ones). A product of an f16 activation and
// +-2^k is exact, and so in practice are the sums of tiny's 64- and 128-term
// rows: its logits came out bit for bit the same, and ~4000 sequences of 64
// to 96 tokens matched (joining at once or one by one with chunked prefill,
// flash attention on or off, 1 to 3 threads) as long as each sequence has its
// own KV stream (kv_unified = false; with a unified cache 2% differed). The
// rows of small and medium are long enough for sums to round: 3% of small's
// 32-token sequences still differ. Token-exact tests should use tiny.
//
// Decisive logits. After the final RMS norm the hidden state has RMS 1, so
// output rows of entry std s give logits of std s*sqrt(n_embd); we aim at
// kLogitStd = 8 (6.5 for tiny, 9.2 for small and medium once s is a power of
// two), so the top-1 vs top-2 gap is ~1 on average and near-greedy sampling
// is stable. Rows of tokens that are not normal (unknown, control such as
// BOS/EOS, byte fallback) are scaled by 1/4, so greedy text practically never
// ends with EOS or holds stray bytes that are not UTF-8: use max_tokens or
// stop strings to end it.
//
// The file is streamed: metadata first, then each tensor generated in chunks
// of kChunkElements, into "<out>.partial", renamed to `out` when complete.
// Memory stays a few MB plus the tokenizer whatever the preset.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <ggml.h>
#include <gguf.h>

#include "backends/llama/llm_service.h"

namespace modelpool {
namespace {

struct Preset {
  std::string_view name;
  std::int64_t n_embd;
  std::int64_t n_layer;
  std::int64_t n_head;
  std::int64_t n_head_kv;
  std::int64_t n_ff;
  std::uint32_t n_ctx;
};

constexpr Preset kPresets[] = {
    {"tiny", 64, 2, 4, 4, 128, 2048},
    {"small", 512, 8, 8, 8, 1536, 2048},
    {"medium", 2048, 8, 16, 16, 5632, 2048},
};

constexpr float kLogitStd = 8.0f;
constexpr float kSpecialTokenScale = 0.25f;  // a power of two: products stay exact
constexpr std::int64_t kChunkElements = 1 << 20;
constexpr std::int32_t kNormalTokenType = 1;  // LLAMA_TOKEN_TYPE_NORMAL

// A simple ChatML template; llama.cpp recognises it by "<|im_start|>".
constexpr const char* kChatTemplate =
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

struct GgufFree {
  void operator()(gguf_context* ctx) const { gguf_free(ctx); }
};
struct GgmlFree {
  void operator()(ggml_context* ctx) const { ggml_free(ctx); }
};
struct FileClose {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using GgufPtr = std::unique_ptr<gguf_context, GgufFree>;
using GgmlPtr = std::unique_ptr<ggml_context, GgmlFree>;
using FilePtr = std::unique_ptr<std::FILE, FileClose>;

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and every seed is good.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

// The power of two s for which ternary {-s, 0, +s} entries have about
// `target_std` (their std is s * sqrt(2/3)).
float ternary_step(float target_std) {
  return std::exp2(std::round(std::log2(target_std * std::sqrt(1.5f))));
}

// How one tensor's values are drawn.
struct TensorPlan {
  ggml_tensor* tensor = nullptr;
  float step = 0;             // 0: every value 1 (norm weights, f32)
  bool special_rows = false;  // output.weight: rows of non-normal tokens scaled down
};

// Copies every tokenizer.* key of `vocab` into `out`.
Status copy_tokenizer(const gguf_context* vocab, gguf_context* out, const std::string& vocab_path) {
  for (std::int64_t i = 0; i < gguf_get_n_kv(vocab); ++i) {
    const char* key = gguf_get_key(vocab, i);
    if (std::string_view(key).rfind("tokenizer.", 0) != 0) continue;
    switch (gguf_get_kv_type(vocab, i)) {
      case GGUF_TYPE_UINT8: gguf_set_val_u8(out, key, gguf_get_val_u8(vocab, i)); break;
      case GGUF_TYPE_INT8: gguf_set_val_i8(out, key, gguf_get_val_i8(vocab, i)); break;
      case GGUF_TYPE_UINT16: gguf_set_val_u16(out, key, gguf_get_val_u16(vocab, i)); break;
      case GGUF_TYPE_INT16: gguf_set_val_i16(out, key, gguf_get_val_i16(vocab, i)); break;
      case GGUF_TYPE_UINT32: gguf_set_val_u32(out, key, gguf_get_val_u32(vocab, i)); break;
      case GGUF_TYPE_INT32: gguf_set_val_i32(out, key, gguf_get_val_i32(vocab, i)); break;
      case GGUF_TYPE_FLOAT32: gguf_set_val_f32(out, key, gguf_get_val_f32(vocab, i)); break;
      case GGUF_TYPE_UINT64: gguf_set_val_u64(out, key, gguf_get_val_u64(vocab, i)); break;
      case GGUF_TYPE_INT64: gguf_set_val_i64(out, key, gguf_get_val_i64(vocab, i)); break;
      case GGUF_TYPE_FLOAT64: gguf_set_val_f64(out, key, gguf_get_val_f64(vocab, i)); break;
      case GGUF_TYPE_BOOL: gguf_set_val_bool(out, key, gguf_get_val_bool(vocab, i)); break;
      case GGUF_TYPE_STRING: gguf_set_val_str(out, key, gguf_get_val_str(vocab, i)); break;
      case GGUF_TYPE_ARRAY: {
        const gguf_type type = gguf_get_arr_type(vocab, i);
        const std::size_t n = gguf_get_arr_n(vocab, i);
        if (type == GGUF_TYPE_STRING) {
          std::vector<const char*> strings(n);
          for (std::size_t j = 0; j < n; ++j) strings[j] = gguf_get_arr_str(vocab, i, j);
          gguf_set_arr_str(out, key, strings.data(), n);
        } else if (type == GGUF_TYPE_ARRAY) {
          return invalid_argument_error("vocab '" + vocab_path + "': nested array in " + key);
        } else {
          gguf_set_arr_data(out, key, type, gguf_get_arr_data(vocab, i), n);
        }
        break;
      }
      default: return invalid_argument_error("vocab '" + vocab_path + "': unknown type of " + key);
    }
  }
  return {};
}

// The current errno as text (thread-safe, unlike std::strerror).
std::string errno_text() {
  return std::generic_category().message(errno);
}

Status write_all(std::FILE* file, const void* data, std::size_t n, const std::string& path) {
  if (n != 0 && std::fwrite(data, 1, n, file) != n) {
    return internal_error("cannot write '" + path + "': " + errno_text());
  }
  return {};
}

// Streams the tensors' values in file order, reporting progress by bytes.
class TensorWriter {
 public:
  TensorWriter(std::FILE* file, const std::string& path, const ProgressFn& progress,
               std::size_t total_bytes, std::size_t alignment)
      : file_(file),
        path_(path),
        progress_(progress),
        total_bytes_(total_bytes),
        alignment_(alignment) {}

  // `special_rows`: the rows (tokens) that plan.special_rows scales down.
  Status write(const TensorPlan& plan, std::uint64_t seed, const std::vector<bool>& special_rows) {
    const ggml_tensor* t = plan.tensor;
    Status status = plan.step == 0 ? write_ones(t) : write_ternary(plan, seed, special_rows);
    if (!status.ok()) return status;
    // The GGUF layout pads every tensor's data to the alignment, the last one
    // included (as gguf_write_to_file does).
    const std::size_t nbytes = ggml_nbytes(t);
    const std::vector<char> zeros(GGML_PAD(nbytes, alignment_) - nbytes, 0);
    return write_all(file_, zeros.data(), zeros.size(), path_);
  }

 private:
  Status write_ones(const ggml_tensor* t) {
    const std::vector<float> ones(static_cast<std::size_t>(ggml_nelements(t)), 1.0f);
    return emit(ones.data(), ones.size() * sizeof(float));
  }

  Status write_ternary(const TensorPlan& plan, std::uint64_t seed,
                       const std::vector<bool>& special_rows) {
    const ggml_tensor* t = plan.tensor;
    const std::int64_t row = t->ne[0];
    const std::int64_t rows = ggml_nrows(t);
    // The three values, for normal rows [0] and special token rows [1].
    ggml_fp16_t values[2][3];
    for (int special = 0; special < 2; ++special) {
      const float s = plan.step * (special ? kSpecialTokenScale : 1.0f);
      values[special][0] = ggml_fp32_to_fp16(-s);
      values[special][1] = ggml_fp32_to_fp16(0.0f);
      values[special][2] = ggml_fp32_to_fp16(s);
    }
    SplitMix64 rng(seed);
    const std::int64_t chunk_rows = std::max<std::int64_t>(1, kChunkElements / row);
    for (std::int64_t first = 0; first < rows; first += chunk_rows) {
      const std::int64_t n_rows = std::min(rows - first, chunk_rows);
      halves_.resize(static_cast<std::size_t>(n_rows * row));
      ggml_fp16_t* out = halves_.data();
      for (std::int64_t r = first; r < first + n_rows; ++r) {
        const ggml_fp16_t* v =
            values[plan.special_rows && special_rows[static_cast<std::size_t>(r)]];
        for (std::int64_t i = 0; i < row; ++i) *out++ = v[rng.next() % 3];
      }
      if (Status s = emit(halves_.data(), halves_.size() * sizeof(ggml_fp16_t)); !s.ok()) {
        return s;
      }
    }
    return {};
  }

  Status emit(const void* data, std::size_t n) {
    if (Status s = write_all(file_, data, n, path_); !s.ok()) return s;
    written_bytes_ += n;
    if (progress_) {
      progress_(static_cast<double>(written_bytes_) / static_cast<double>(total_bytes_));
    }
    return {};
  }

  std::FILE* file_;
  const std::string& path_;
  const ProgressFn& progress_;
  std::size_t total_bytes_;
  std::size_t alignment_;
  std::size_t written_bytes_ = 0;
  std::vector<ggml_fp16_t> halves_;
};

}  // namespace

Status make_model(const MakeModelOptions& options) {
  const Preset* preset = nullptr;
  for (const Preset& p : kPresets) {
    if (p.name == options.preset) preset = &p;
  }
  if (preset == nullptr) {
    return invalid_argument_error("preset '" + options.preset +
                                  "' is not one of tiny, small, medium");
  }
  if (options.out.empty()) return invalid_argument_error("out: no output path given");
#ifdef MODELPOOL_LLAMA_VOCAB
  const std::string vocab_path = options.vocab.empty() ? MODELPOOL_LLAMA_VOCAB : options.vocab;
#else
  const std::string vocab_path = options.vocab;
#endif
  if (vocab_path.empty()) return invalid_argument_error("vocab: no vocabulary file given");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(vocab_path, ec)) {
    return not_found_error("vocab file '" + vocab_path + "' not found");
  }

  // The tokenizer: metadata only, the vocab file has no tensors.
  GgufPtr vocab(gguf_init_from_file(vocab_path.c_str(), {/*no_alloc=*/true, /*ctx=*/nullptr}));
  if (vocab == nullptr) {
    return invalid_argument_error("vocab file '" + vocab_path + "' is not a readable GGUF file");
  }
  const std::int64_t tokens_key = gguf_find_key(vocab.get(), "tokenizer.ggml.tokens");
  if (tokens_key < 0 || gguf_get_kv_type(vocab.get(), tokens_key) != GGUF_TYPE_ARRAY) {
    return invalid_argument_error("vocab file '" + vocab_path + "' has no tokenizer.ggml.tokens");
  }
  const auto n_vocab = static_cast<std::int64_t>(gguf_get_arr_n(vocab.get(), tokens_key));
  std::vector<bool> special_tokens(static_cast<std::size_t>(n_vocab), false);
  if (const std::int64_t types_key = gguf_find_key(vocab.get(), "tokenizer.ggml.token_type");
      types_key >= 0 && gguf_get_kv_type(vocab.get(), types_key) == GGUF_TYPE_ARRAY &&
      gguf_get_arr_type(vocab.get(), types_key) == GGUF_TYPE_INT32 &&
      static_cast<std::int64_t>(gguf_get_arr_n(vocab.get(), types_key)) == n_vocab) {
    const auto* types = static_cast<const std::int32_t*>(gguf_get_arr_data(vocab.get(), types_key));
    for (std::int64_t i = 0; i < n_vocab; ++i) {
      special_tokens[static_cast<std::size_t>(i)] = types[i] != kNormalTokenType;
    }
  }

  const Preset& p = *preset;
  const std::string name = "modelpool-" + std::string(p.name);
  GgufPtr gguf(gguf_init_empty());
  gguf_context* g = gguf.get();
  gguf_set_val_str(g, "general.architecture", "llama");
  gguf_set_val_str(g, "general.name", name.c_str());
  gguf_set_val_u32(g, "llama.context_length", p.n_ctx);
  gguf_set_val_u32(g, "llama.embedding_length", static_cast<std::uint32_t>(p.n_embd));
  gguf_set_val_u32(g, "llama.block_count", static_cast<std::uint32_t>(p.n_layer));
  gguf_set_val_u32(g, "llama.feed_forward_length", static_cast<std::uint32_t>(p.n_ff));
  gguf_set_val_u32(g, "llama.attention.head_count", static_cast<std::uint32_t>(p.n_head));
  gguf_set_val_u32(g, "llama.attention.head_count_kv", static_cast<std::uint32_t>(p.n_head_kv));
  gguf_set_val_u32(g, "llama.rope.dimension_count",
                   static_cast<std::uint32_t>(p.n_embd / p.n_head));
  gguf_set_val_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
  gguf_set_val_f32(g, "llama.rope.freq_base", 10000.0f);
  gguf_set_val_u32(g, "llama.vocab_size", static_cast<std::uint32_t>(n_vocab));
  gguf_set_val_u32(g, "general.file_type", 1);  // LLAMA_FTYPE_MOSTLY_F16
  if (Status s = copy_tokenizer(vocab.get(), g, vocab_path); !s.ok()) return s;
  gguf_set_val_str(g, "tokenizer.chat_template", kChatTemplate);
  vocab.reset();

  // Tensor descriptions without data: names and ggml shapes (ne0 = the input
  // dimension) as llama_model_llama::load_arch_tensors expects them.
  const std::int64_t n_embd_kv = p.n_embd / p.n_head * p.n_head_kv;
  const std::size_t n_tensors = 3 + 9 * static_cast<std::size_t>(p.n_layer);
  GgmlPtr meta(ggml_init({/*mem_size=*/n_tensors * ggml_tensor_overhead(),
                          /*mem_buffer=*/nullptr, /*no_alloc=*/true}));
  if (meta == nullptr) return internal_error("make_model: ggml_init failed");
  std::vector<TensorPlan> plans;
  auto add_norm = [&](const std::string& tensor_name) {
    ggml_tensor* t = ggml_new_tensor_1d(meta.get(), GGML_TYPE_F32, p.n_embd);
    ggml_set_name(t, tensor_name.c_str());
    gguf_add_tensor(g, t);
    plans.push_back({t, 0.0f, false});
  };
  auto add_matrix = [&](const std::string& tensor_name, std::int64_t n_in, std::int64_t n_out,
                        float step, bool special_rows = false) {
    ggml_tensor* t = ggml_new_tensor_2d(meta.get(), GGML_TYPE_F16, n_in, n_out);
    ggml_set_name(t, tensor_name.c_str());
    gguf_add_tensor(g, t);
    plans.push_back({t, step, special_rows});
  };
  const auto layer_step = [](std::int64_t fan_in) {
    return ternary_step(1.0f / std::sqrt(static_cast<float>(fan_in)));
  };
  add_matrix("token_embd.weight", p.n_embd, n_vocab, 1.0f);
  add_norm("output_norm.weight");
  add_matrix("output.weight", p.n_embd, n_vocab,
             ternary_step(kLogitStd / std::sqrt(static_cast<float>(p.n_embd))), true);
  for (std::int64_t i = 0; i < p.n_layer; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".";
    add_norm(blk + "attn_norm.weight");
    add_matrix(blk + "attn_q.weight", p.n_embd, p.n_embd, layer_step(p.n_embd));
    add_matrix(blk + "attn_k.weight", p.n_embd, n_embd_kv, layer_step(p.n_embd));
    add_matrix(blk + "attn_v.weight", p.n_embd, n_embd_kv, layer_step(p.n_embd));
    add_matrix(blk + "attn_output.weight", p.n_embd, p.n_embd, layer_step(p.n_embd));
    add_norm(blk + "ffn_norm.weight");
    add_matrix(blk + "ffn_gate.weight", p.n_embd, p.n_ff, layer_step(p.n_embd));
    add_matrix(blk + "ffn_down.weight", p.n_ff, p.n_embd, layer_step(p.n_ff));
    add_matrix(blk + "ffn_up.weight", p.n_embd, p.n_ff, layer_step(p.n_embd));
  }
  std::size_t data_bytes = 0;
  for (const TensorPlan& plan : plans) data_bytes += ggml_nbytes(plan.tensor);

  // The header and tensor infos (padded to the alignment), then the data.
  std::vector<char> header(gguf_get_meta_size(g));
  gguf_get_meta_data(g, header.data());
  const std::string partial = options.out + ".partial";
  FilePtr file(std::fopen(partial.c_str(), "wb"));
  if (file == nullptr) {
    return internal_error("cannot create '" + options.out + "': " + errno_text());
  }
  auto fail = [&](Status s) {
    file.reset();
    std::filesystem::remove(partial, ec);
    return s;
  };
  if (Status s = write_all(file.get(), header.data(), header.size(), options.out); !s.ok()) {
    return fail(std::move(s));
  }
  TensorWriter writer(file.get(), options.out, options.progress, data_bytes, gguf_get_alignment(g));
  for (std::size_t i = 0; i < plans.size(); ++i) {
    SplitMix64 seeder(options.seed ^ (0x6d6f64656c706f6fULL * (i + 1)));  // "modelpoo"
    if (Status s = writer.write(plans[i], seeder.next(), special_tokens); !s.ok()) {
      return fail(std::move(s));
    }
  }
  if (std::fclose(file.release()) != 0) {
    return fail(internal_error("cannot write '" + options.out + "': " + errno_text()));
  }
  std::filesystem::rename(partial, options.out, ec);
  if (ec) return fail(internal_error("cannot create '" + options.out + "': " + ec.message()));
  if (options.progress) options.progress(1.0);
  return {};
}

}  // namespace modelpool
