// LlmService: the generation API over a pool of exclusive contexts or of
// slots of one batched context.
#include <algorithm>
#include <cstring>
#include <mutex>

#include "backends/llama/batch_engine.h"
#include "backends/llama/exclusive_context.h"
#include "backends/llama/llama_backend.h"
#include "backends/llama/llm_service.h"

namespace modelpool {

namespace llama {
namespace {

// One sequence slot of a BatchEngine, leased like any instance: the pool of
// slots admits at most `slots` callers, in FIFO order, and each runs its
// generation on the engine's shared batch.
class BatchSlot final : public LlmInstance {
 public:
  explicit BatchSlot(BatchEngine* engine) : LlmInstance(engine->weights()), engine_(engine) {}

  // A slot's own state is its share of the context.
  std::size_t bytes() const override { return engine_->buffers().total() / engine_->slots(); }
  std::size_t sequence_tokens() const override { return engine_->sequence_tokens(); }
  // A pool of slots is one context: its tiles say they share it.
  std::string label() const override { return "batch slot"; }
  // Joins the batch at the next step; ends at the prompt's deadline with
  // kTimeout (BatchEngine::run).
  Result<GenerationResult> generate(const GenerationRequest& request,
                                    std::unique_ptr<PreparedGeneration> prepared,
                                    Clock::time_point t0, std::stop_token stop) override {
    auto prompt = take_prompt(request, std::move(prepared));
    if (!prompt.ok()) return prompt.status();
    const Deadline deadline = prompt->deadline;
    return engine_->run(request, std::move(*prompt), t0, deadline, stop);
  }

 private:
  BatchEngine* engine_;  // outlives the pool's slots
};

class LlmServiceImpl final : public LlmService {
 public:
  static Result<std::unique_ptr<LlmService>> create(Registry& registry, const ModelSpec& spec,
                                                    const LlmOptions& options);

  Result<GenerationResult> generate(const GenerationRequest& request, Deadline deadline,
                                    std::stop_token stop) override {
    const Clock::time_point t0 = Clock::now();
    // Before any waiting: a request that cannot run is refused at once.
    auto prompt = prepare(*weights_, request, info_.sequence_tokens);
    if (!prompt.ok()) return prompt.status();
    auto prepared = std::make_unique<PreparedPrompt>(std::move(*prompt));
    prepared->deadline = deadline;
    Result<Lease> lease = pool_->acquire(deadline, stop);
    if (!lease.ok()) return lease.status();
    Result<GenerationResult> result = (*lease)->generate(request, std::move(prepared), t0, stop);
    if (!result.ok() && result.status().code() == StatusCode::kInternal) {
      lease->mark_broken(result.status().message());
    }
    return result;
  }

  Result<std::size_t> count_tokens(std::string_view text) const override {
    return weights_->tokenize(text, false).size();
  }
  LlmInfo info() const override { return info_; }
  std::chrono::milliseconds stalled_for() const override {
    return engine_ ? engine_->stalled_for() : std::chrono::milliseconds(0);
  }
  std::vector<LlmEngineStats> engine_stats() const override {
    std::vector<LlmEngineStats> out;
    if (engine_) out.push_back(engine_->meter().read());
    for (const auto& m : meters_) out.push_back(m->read());
    return out;
  }
  PoolSnapshot snapshot() const override { return pool_->snapshot(); }
  KvUsage kv_usage() const override {
    KvUsage u;
    u.total_cells = info_.context_tokens * info_.instances;
    if (engine_) u.used_cells = engine_->meter().kv_used();
    for (const auto& m : meters_) u.used_cells += m->kv_used();
    return u;
  }
  std::optional<PrefixCacheStats> prefix_cache_stats() const override {
    if (!prefix_cache_) return std::nullopt;
    return prefix_cache_->stats();
  }
  Status shutdown(std::chrono::milliseconds timeout) override { return pool_->shutdown(timeout); }

 private:
  // What the engine's context and the prefix cache hold, against the
  // budget (exclusive contexts reserve through the pool). Declared first:
  // given back after all of it is freed.
  MemoryReservation reserved_;
  WeightsRef weights_ref_;
  std::shared_ptr<const LlamaWeights> weights_;
  LlmInfo info_;
  std::shared_ptr<PrefixCache> prefix_cache_;  // null: none
  std::unique_ptr<BatchEngine> engine_;  // batched mode; outlives the pool's slots
  std::vector<std::shared_ptr<DecodeMeter>> meters_;  // exclusive mode: one per context
  std::unique_ptr<Pool> pool_;
};

Status validate(const LlmOptions& o) {
  if (o.instances == 0) return invalid_argument_error("instances must be >= 1");
  if (o.slots == 0) return invalid_argument_error("slots must be >= 1");
  if (o.context < 16) return invalid_argument_error("context must be >= 16 tokens");
  if (o.batch == 0) return invalid_argument_error("batch must be >= 1");
  if (o.prefill_chunk == 0) return invalid_argument_error("prefill_chunk must be >= 1");
  if (o.step_delay.count() > 0 && o.mode != LlmMode::kBatched) {
    return invalid_argument_error("step_delay applies to batched mode only");
  }
  if (o.prefix_block_tokens == 0) return invalid_argument_error("prefix_block_tokens must be >= 1");
  if (o.separate_loads && o.mode != LlmMode::kExclusive) {
    return invalid_argument_error("separate_loads applies to exclusive mode only");
  }
  return {};
}

Result<std::unique_ptr<LlmService>> LlmServiceImpl::create(Registry& registry,
                                                           const ModelSpec& spec,
                                                           const LlmOptions& options) {
  if (Status s = validate(options); !s.ok()) return s;
  auto ref = registry.get(spec);
  if (!ref.ok()) return ref.status();
  auto weights = std::dynamic_pointer_cast<const LlamaWeights>(ref->shared());
  if (!weights) return invalid_argument_error("model '" + spec.name + "' is not a llama model");

  std::unique_ptr<LlmServiceImpl> svc(new LlmServiceImpl());
  svc->weights_ref_ = std::move(*ref);
  svc->weights_ = weights;
  const std::size_t threads = options.threads ? options.threads : machine_cores();
  LlmInfo& info = svc->info_;
  info.weights_bytes = weights->bytes();
  info.threads = threads;
  if (const char* own = llama_model_chat_template(weights->model(), nullptr)) {
    info.chat_template = "the model's own (" + std::to_string(std::strlen(own)) + " bytes)";
  } else {
    info.chat_template = "chatml (the model has none)";
  }

  if (options.prefix_cache_tokens >= options.prefix_block_tokens && options.prefix_cache_bytes > 0) {
    svc->prefix_cache_ = std::make_shared<PrefixCache>(PrefixCacheOptions{
        options.prefix_block_tokens, options.prefix_cache_tokens, options.prefix_cache_bytes});
    info.prefix_cache = std::to_string(options.prefix_cache_tokens) + " tokens, " +
                        std::to_string(options.prefix_cache_bytes >> 20) + " MiB, blocks of " +
                        std::to_string(options.prefix_block_tokens);
  } else {
    info.prefix_cache = "off";
  }
  // Grows the service's reservation by `bytes` for `what`, or says why not.
  auto reserve = [&](std::size_t bytes, const std::string& what) -> Status {
    if (!options.memory_budget) return {};
    if (!svc->reserved_) {
      auto r = options.memory_budget->reserve(bytes, "model '" + spec.name + "': " + what);
      if (!r.ok()) return r.status();
      svc->reserved_ = std::move(*r);
      return {};
    }
    return svc->reserved_.resize(svc->reserved_.bytes() + bytes, "model '" + spec.name + "': " + what);
  };
  if (svc->prefix_cache_) {
    if (Status s = reserve(options.prefix_cache_bytes, "its prefix cache"); !s.ok()) return s;
  }

  PoolOptions po;
  po.name = spec.name;
  po.max_queue = options.max_queue;
  po.eager = true;
  InstanceFactory factory;
  struct ContextSizes {
    std::atomic<std::size_t> total{0}, kv{0};
  };
  std::shared_ptr<ContextSizes> exclusive_sizes;  // exclusive mode
  if (options.mode == LlmMode::kBatched) {
    // A step carries one token of every slot, so it takes at least `slots`.
    BatchEngineOptions eo{options.slots, options.context, threads,
                          std::max(options.batch, options.slots), options.prefill_chunk,
                          options.prefill_stall, options.step_delay, svc->prefix_cache_};
    auto engine = BatchEngine::create(weights, eo);
    if (!engine.ok()) return engine.status();
    if (Status s = reserve((*engine)->buffers().total(), "its batched context"); !s.ok()) return s;
    svc->engine_ = std::move(*engine);
    BatchEngine* e = svc->engine_.get();
    if (!e->prefix_cache_off().empty()) {
      info.prefix_cache = "off: " + e->prefix_cache_off();
      svc->prefix_cache_.reset();
    }
    factory = [e]() -> Result<std::unique_ptr<Instance>> {
      return std::unique_ptr<Instance>(std::make_unique<BatchSlot>(e));
    };
    po.min_instances = po.max_instances = options.slots;
    po.service_threads = 1;
    po.warmup = false;
    info.context_bytes = e->buffers().total();
    info.kv_bytes = e->buffers().kv_bytes;
    info.context_tokens = options.context;
    info.sequence_tokens = e->sequence_tokens();
    info.instances = 1;
    info.slots = options.slots;
  } else {
    const std::size_t per_context = std::max<std::size_t>(1, threads / options.instances);
    auto gate = std::make_shared<ComputeGate>(
        static_cast<std::ptrdiff_t>(std::max<std::size_t>(1, threads / per_context)));
    const std::string path = spec.path;
    for (std::size_t i = 0; i < options.instances; ++i) {
      svc->meters_.push_back(std::make_shared<DecodeMeter>());
    }
    auto next_meter = std::make_shared<std::atomic<std::size_t>>(0);
    auto meters = svc->meters_;
    std::shared_ptr<PrefixCache> prefix_cache = svc->prefix_cache_;
    // What a context costs, as the contexts report it when they are made
    // (every context of a model has the same size).
    auto sizes = std::make_shared<ContextSizes>();
    exclusive_sizes = sizes;
    factory = [=]() -> Result<std::unique_ptr<Instance>> {
      std::shared_ptr<const LlamaWeights> w = weights;
      if (options.separate_loads) {
        // The naive pool, for comparison: every instance reads its own copy.
        auto own = LlamaWeights::load(path, nullptr, /*mmap=*/false);
        if (!own.ok()) return own.status();
        w = *own;
      }
      // Replacements reuse meters round-robin: the totals stay right.
      auto meter = meters[next_meter->fetch_add(1) % meters.size()];
      auto c = ExclusiveContext::create(w, options.context, per_context, options.batch, gate, meter,
                                        options.separate_loads ? nullptr : prefix_cache);
      if (!c.ok()) return c.status();
      sizes->total.store((*c)->buffers().total());
      sizes->kv.store((*c)->buffers().kv_bytes);
      return std::unique_ptr<Instance>(std::move(*c));
    };
    po.min_instances = std::min(options.min_instances, options.instances);
    po.max_instances = options.instances;
    po.autoscale = options.autoscale;
    po.memory_budget = options.memory_budget;
    po.on_growth_refused = options.on_growth_refused;
    po.service_threads = std::min<std::size_t>(options.instances, 2);
    info.instances = info.slots = options.instances;
    info.context_tokens = info.sequence_tokens = options.context;
  }
  auto pool = Pool::create(std::move(factory), po);
  if (!pool.ok()) return pool.status();
  svc->pool_ = std::move(*pool);
  if (Status s = svc->pool_->wait_ready(); !s.ok()) return s;
  if (exclusive_sizes) {
    info.context_bytes = exclusive_sizes->total.load();
    info.kv_bytes = exclusive_sizes->kv.load();
  }
  return std::unique_ptr<LlmService>(std::move(svc));
}

}  // namespace
}  // namespace llama

Result<std::unique_ptr<LlmService>> LlmService::create(Registry& registry, const ModelSpec& spec,
                                                       const LlmOptions& options) {
  return llama::LlmServiceImpl::create(registry, spec, options);
}

}  // namespace modelpool
