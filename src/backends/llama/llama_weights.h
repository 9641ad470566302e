// LlamaWeights: one loaded llama.cpp model (memory-mapped), shared by every
// context made over it, plus the tokenizer and chat-template helpers the
// contexts need. Immutable after load; safe to use from many threads.
#pragma once

#include <llama.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "modelpool/backend.h"
#include "backends/llama/llm_service.h"
#include "backends/llama/offload.h"

namespace modelpool::llama {

// llama_backend_init once per process, and llama.cpp's log routed: warnings
// and errors to stderr, the rest dropped unless MODELPOOL_LLAMA_LOG=1.
void ensure_backend();

// Buffer sizes llama.cpp reports (in its log) while it creates a context.
struct ContextBuffers {
  std::size_t kv_bytes = 0;
  std::size_t compute_bytes = 0;
  std::size_t output_bytes = 0;
  std::size_t total() const { return kv_bytes + compute_bytes + output_bytes; }
};

// llama_init_from_model, recording the buffer sizes it reports.
// Errors: kModelFailed with llama.cpp's complaint when it returns null.
Result<llama_context*> create_context(llama_model* model, const llama_context_params& params,
                                      ContextBuffers* buffers);

class LlamaWeights final : public Weights {
 public:
  // Loads `path`, memory-mapped unless `mmap` is false (then read into this
  // process's own memory, as an engine that does not share would), with its
  // layers where `offload` says (offload.h; the default: all on the CPU).
  // Errors: kNotFound when the file is missing, kModelFailed when llama.cpp
  // cannot load it (on a GPU: also when the GPU's memory is too small).
  static Result<std::shared_ptr<const LlamaWeights>> load(const std::string& path,
                                                          const ProgressFn& progress,
                                                          bool mmap = true,
                                                          const Offload& offload = {});
  ~LlamaWeights() override;
  LlamaWeights(const LlamaWeights&) = delete;
  LlamaWeights& operator=(const LlamaWeights&) = delete;

  std::size_t bytes() const override { return bytes_; }
  // Non-const because llama_init_from_model takes one; contexts only read it.
  llama_model* model() const { return model_; }
  const llama_vocab* vocab() const { return vocab_; }

  // Tokens of `text`; with `add_special` the BOS the model expects. With
  // `parse_special` the text of a special token ("<s>", "<|im_start|>")
  // becomes that token; without, it stays text.
  std::vector<llama_token> tokenize(std::string_view text, bool add_special,
                                    bool parse_special = true) const;
  // The text of one token (may be part of a UTF-8 character).
  std::string piece(llama_token token) const;
  bool is_end_of_generation(llama_token token) const { return llama_vocab_is_eog(vocab_, token); }
  // The model's chat template, or null when it has none.
  const char* chat_template() const { return llama_model_chat_template(model_, nullptr); }
  // The tokens the tokenizer makes of their text only when asked to parse
  // special tokens (control and unknown tokens), longest text first: the
  // order in which llama.cpp looks for them.
  const std::vector<llama_token>& special_tokens() const { return special_tokens_; }

 private:
  LlamaWeights() = default;

  llama_model* model_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  std::size_t bytes_ = 0;
  std::vector<llama_token> special_tokens_;
};

}  // namespace modelpool::llama
