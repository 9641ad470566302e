// The llama backend behind the Model seam: an LlmService serving kGenerate,
// and kInfer as text in, text out (generation_request_from).
#include <cstdio>
#include <filesystem>

#include "backends/llama/llama_backend.h"

namespace modelpool::llama {
namespace {

std::string mib(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

class LlamaModel final : public Model {
 public:
  LlamaModel(std::unique_ptr<LlmService> llm, std::string path, LlmMode mode)
      : llm_(std::move(llm)), path_(std::move(path)), mode_(mode) {}

  Capabilities capabilities() const override { return Capability::kGenerate | Capability::kInfer; }

  Result<InferStats> infer(const Request& request, Sink& sink, Deadline deadline, std::stop_token stop) override {
    auto r = infer_by_generating(request, sink, [&](const GenerationRequest& g) {
      return llm_->generate(g, deadline, stop);
    });
    if (!r.ok()) return r.status();
    InferStats stats;
    stats.queue_wait = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(r->queue_s));
    stats.run = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(r->total_s - r->queue_s));
    r->text.clear();  // sent; the stats keep the counts and timings
    stats.generation = std::move(*r);
    return stats;
  }

  Result<GenerationResult> generate(const GenerationRequest& request, Deadline deadline,
                                    std::stop_token stop) override {
    return llm_->generate(request, deadline, stop);
  }
  Result<std::size_t> count_tokens(std::string_view text) const override { return llm_->count_tokens(text); }
  std::size_t max_sequence_tokens() const override { return llm_->info().sequence_tokens; }

  ModelStats stats() const override {
    ModelStats s;
    s.pool = llm_->snapshot();
    const LlmInfo info = llm_->info();
    s.weights_bytes = info.weights_bytes;
    s.instance_bytes = mode_ == LlmMode::kBatched ? info.context_bytes / std::max<std::size_t>(1, info.slots)
                                                  : info.context_bytes;
    s.kv = llm_->kv_usage();
    s.engines = llm_->engine_stats();
    s.prefix_cache = llm_->prefix_cache_stats();
    s.stalled_for = llm_->stalled_for();
    return s;
  }

  std::string describe() const override {
    const LlmInfo i = llm_->info();
    std::error_code ec;
    const auto file_bytes = std::filesystem::file_size(path_, ec);
    std::string s = "llama " + path_ + " (" + (ec ? "?" : mib(file_bytes)) + " file, " + mib(i.weights_bytes) +
                    " weights), ";
    if (mode_ == LlmMode::kBatched) {
      s += "batched, " + std::to_string(i.slots) + " slots x " + std::to_string(i.sequence_tokens) + " tokens";
    } else {
      s += "exclusive, " + std::to_string(i.instances) + " contexts x " + std::to_string(i.sequence_tokens) +
           " tokens";
    }
    return s + ", KV cache " + mib(i.kv_bytes * i.instances) + ", " + std::to_string(i.threads) +
           " threads, prefix cache " + i.prefix_cache + ", chat template: " + i.chat_template;
  }

  Status shutdown(std::chrono::milliseconds timeout) override { return llm_->shutdown(timeout); }

 private:
  std::unique_ptr<LlmService> llm_;
  const std::string path_;
  const LlmMode mode_;
};

}  // namespace

Result<std::unique_ptr<Model>> LlamaBackend::open(Registry& registry, const ModelSpec& spec,
                                                  const ServeOptions& serve) {
  auto options = llm_options(spec, serve);
  if (!options.ok()) return options.status();
  // Most options shape the contexts, not the weights: every llama model of
  // one file with the same gpu_layers and device shares one copy.
  auto weights = weights_spec(spec);
  if (!weights.ok()) return weights.status();
  auto llm = LlmService::create(registry, *weights, *options);
  if (!llm.ok()) return llm.status();
  return std::unique_ptr<Model>(std::make_unique<LlamaModel>(std::move(*llm), spec.path, options->mode));
}

}  // namespace modelpool::llama
