#include "backends/llama/llama_weights.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace modelpool::llama {
namespace {

// Set while this thread creates a context: the log callback adds the buffer
// sizes llama.cpp reports to it.
thread_local ContextBuffers* t_capture = nullptr;
thread_local std::string* t_last_error = nullptr;

std::size_t mib_after(const char* text, const char* label) {
  const char* at = std::strstr(text, label);
  if (at == nullptr) return 0;
  const char* eq = std::strchr(at, '=');
  if (eq == nullptr) return 0;
  return static_cast<std::size_t>(std::strtod(eq + 1, nullptr) * 1024.0 * 1024.0);
}

void log_callback(ggml_log_level level, const char* text, void*) {
  if (t_capture != nullptr) {
    t_capture->kv_bytes += mib_after(text, " KV buffer size");
    t_capture->kv_bytes += mib_after(text, " RS buffer size");
    t_capture->compute_bytes += mib_after(text, " compute buffer size");
    t_capture->output_bytes += mib_after(text, " output buffer size");
  }
  if (level == GGML_LOG_LEVEL_ERROR && t_last_error != nullptr) *t_last_error += text;
  static const bool verbose = std::getenv("MODELPOOL_LLAMA_LOG") != nullptr;
  if (verbose || level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) {
    std::fputs(text, stderr);
  }
}

struct ErrorCapture {
  explicit ErrorCapture(std::string* s) { t_last_error = s; }
  ~ErrorCapture() { t_last_error = nullptr; }
};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

void ensure_backend() {
  static std::once_flag once;
  std::call_once(once, [] {
    llama_log_set(log_callback, nullptr);
    llama_backend_init();
  });
}

Result<llama_context*> create_context(llama_model* model, const llama_context_params& params,
                                      ContextBuffers* buffers) {
  ensure_backend();
  std::string error;
  ErrorCapture capture(&error);
  ContextBuffers local;
  t_capture = &local;
  llama_context* ctx = llama_init_from_model(model, params);
  t_capture = nullptr;
  if (ctx == nullptr) {
    return model_failed_error("llama.cpp could not create a context of " +
                              std::to_string(params.n_ctx) + " tokens: " +
                              (error.empty() ? "no reason given" : trimmed(error)));
  }
  if (buffers != nullptr) *buffers = local;
  return ctx;
}

Result<std::shared_ptr<const LlamaWeights>> LlamaWeights::load(const std::string& path,
                                                              const ProgressFn& progress,
                                                              bool mmap,
                                                              const Offload& offload) {
  ensure_backend();
  struct stat st{};
  if (path.empty()) return invalid_argument_error("llama model: no path given");
  if (::stat(path.c_str(), &st) != 0) {
    return not_found_error("llama model file '" + path + "': " + std::strerror(errno));
  }
  llama_model_params params = llama_model_default_params();
  // Mapped, the weights are shared through the page cache.
  params.load_mode = mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
  // llama.cpp's default is every layer on every GPU it finds; ours, none.
  // An empty device list (not null: null means "all") keeps llama.cpp off the
  // GPUs entirely, even for the large batches it would otherwise offload.
  ggml_backend_dev_t no_devices[] = {nullptr};
  ggml_backend_dev_t one_device[] = {offload.device, nullptr};
  params.n_gpu_layers = offload.gpu_layers;
  if (offload.gpu_layers == 0) {
    params.devices = no_devices;
  } else if (offload.device != nullptr) {
    params.devices = one_device;
  }
  if (progress) {
    params.progress_callback = [](float p, void* user) {
      (*static_cast<const ProgressFn*>(user))(p);
      return true;
    };
    params.progress_callback_user_data = const_cast<ProgressFn*>(&progress);
  }
  std::string error;
  ErrorCapture capture(&error);
  llama_model* model = llama_model_load_from_file(path.c_str(), params);
  if (model == nullptr) {
    return model_failed_error("llama.cpp could not load '" + path +
                              "': " + (error.empty() ? "not a usable GGUF model" : trimmed(error)));
  }
  std::shared_ptr<LlamaWeights> w(new LlamaWeights());
  w->model_ = model;
  w->vocab_ = llama_model_get_vocab(model);
  w->bytes_ = llama_model_size(model);
  const llama_vocab* vocab = w->vocab_;
  for (llama_token t = 0; t < llama_vocab_n_tokens(vocab); ++t) {
    const auto attr = llama_vocab_get_attr(vocab, t);
    const char* text = llama_vocab_get_text(vocab, t);
    if ((attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_UNKNOWN)) && text && *text) {
      w->special_tokens_.push_back(t);
    }
  }
  std::stable_sort(w->special_tokens_.begin(), w->special_tokens_.end(),
                   [&](llama_token a, llama_token b) {
                     return std::strlen(llama_vocab_get_text(vocab, a)) >
                            std::strlen(llama_vocab_get_text(vocab, b));
                   });
  return std::shared_ptr<const LlamaWeights>(std::move(w));
}

LlamaWeights::~LlamaWeights() {
  if (model_ != nullptr) llama_model_free(model_);
}

std::vector<llama_token> LlamaWeights::tokenize(std::string_view text, bool add_special,
                                                bool parse_special) const {
  std::vector<llama_token> tokens(text.size() + 8);
  int32_t n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                             static_cast<int32_t>(tokens.size()), add_special, parse_special);
  if (n < 0) {
    tokens.resize(static_cast<std::size_t>(-n));
    n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                       static_cast<int32_t>(tokens.size()), add_special, parse_special);
  }
  tokens.resize(static_cast<std::size_t>(std::max(n, 0)));
  return tokens;
}

std::string LlamaWeights::piece(llama_token token) const {
  char buf[128];
  int32_t n = llama_token_to_piece(vocab_, token, buf, sizeof buf, 0, false);
  if (n >= 0) return std::string(buf, static_cast<std::size_t>(n));
  std::string big(static_cast<std::size_t>(-n), '\0');
  n = llama_token_to_piece(vocab_, token, big.data(), static_cast<int32_t>(big.size()), 0, false);
  big.resize(static_cast<std::size_t>(std::max(n, 0)));
  return big;
}

}  // namespace modelpool::llama
