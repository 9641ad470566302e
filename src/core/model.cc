// The engine-neutral parts of the seam: capability names, the defaults of
// Instance, Backend and Model, the backend catalog, and the pooled model
// every Instance-based backend serves through.
#include "modelpool/model.h"

#include "core/deadline_stop.h"
#include "modelpool/executor.h"

#include <atomic>
#include <cstdio>
#include <exception>

namespace modelpool {

std::string_view capability_name(Capability c) {
  switch (c) {
    case Capability::kInfer: return "infer";
    case Capability::kGenerate: return "generate";
    case Capability::kTranscribe: return "transcribe";
    case Capability::kSpeak: return "speak";
  }
  return "unknown";
}

namespace {

Status unsupported(Capability c) {
  return invalid_argument_error("the model does not support " + std::string(capability_name(c)));
}

}  // namespace

Status missing_capability_error(std::string_view model, Capability c) {
  return invalid_argument_error("model '" + std::string(model) + "' does not support " +
                                std::string(capability_name(c)));
}

Result<GenerationResult> Instance::generate(const GenerationRequest&, std::unique_ptr<PreparedGeneration>,
                                            Clock::time_point, std::stop_token) {
  return unsupported(Capability::kGenerate);
}

Status Backend::check(const ModelSpec&, const ServeOptions&) const { return {}; }

ComputeThreads Backend::compute_threads(const ModelSpec&, const ServeOptions& serve) const {
  return {std::max<std::size_t>(1, serve.max_instances), 1};
}

Result<std::unique_ptr<Model>> Backend::open(Registry& registry, const ModelSpec& spec,
                                             const ServeOptions& serve) {
  return open_pooled_model(*this, registry, spec, serve);
}

Result<InferStats> Model::infer(const Request&, Sink&, Deadline, std::stop_token) {
  return unsupported(Capability::kInfer);
}
std::optional<Result<InferStats>> Model::infer_now(const Request&, Sink&) { return std::nullopt; }
Result<GenerationResult> Model::generate(const GenerationRequest&, Deadline, std::stop_token) {
  return unsupported(Capability::kGenerate);
}
Result<std::size_t> Model::count_tokens(std::string_view) const { return unsupported(Capability::kGenerate); }

ComputeThreads Executor::compute_threads(const Backend& backend, const ModelSpec& spec,
                                         const ServeOptions& serve) const {
  return backend.compute_threads(spec, serve);
}

Result<std::unique_ptr<Model>> ThreadExecutor::open(Backend& backend, Registry& registry, const ModelSpec& spec,
                                                    const ServeOptions& serve) {
  return backend.open(registry, spec, serve);
}

namespace {

// The catalog's two maps (backends, executors) read the same way.
template <typename T>
using ByName = std::map<std::string, std::shared_ptr<T>, std::less<>>;

template <typename T>
std::vector<std::shared_ptr<T>> values_of(const ByName<T>& map) {
  std::vector<std::shared_ptr<T>> out;
  for (const auto& [name, value] : map) out.push_back(value);
  return out;
}

template <typename T>
std::string names_of(const ByName<T>& map) {
  std::string out;
  for (const auto& [name, value] : map) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none registered" : out;
}

template <typename T>
Result<std::shared_ptr<T>> find_in(const ByName<T>& map, std::string_view name, std::string_view what) {
  auto it = map.find(name);
  if (it == map.end()) {
    return not_found_error("unknown " + std::string(what) + " '" + std::string(name) + "' (known: " +
                           names_of(map) + ")");
  }
  return it->second;
}

}  // namespace

BackendCatalog::BackendCatalog() { add_executor(std::make_shared<ThreadExecutor>()); }

void BackendCatalog::add(std::shared_ptr<Backend> backend) {
  std::string name(backend->name());
  backends_.emplace(std::move(name), std::move(backend));
}
Result<std::shared_ptr<Backend>> BackendCatalog::find(std::string_view name) const {
  return find_in(backends_, name, "backend");
}
std::vector<std::shared_ptr<Backend>> BackendCatalog::list() const { return values_of(backends_); }
std::string BackendCatalog::names() const { return names_of(backends_); }

void BackendCatalog::add_executor(std::shared_ptr<Executor> executor) {
  std::string name(executor->name());
  executors_.emplace(std::move(name), std::move(executor));
}
Result<std::shared_ptr<Executor>> BackendCatalog::find_executor(std::string_view name) const {
  return find_in(executors_, name, "isolation");
}
std::vector<std::shared_ptr<Executor>> BackendCatalog::executors() const { return values_of(executors_); }
std::string BackendCatalog::executor_names() const { return names_of(executors_); }

BackendCatalog& default_catalog() {
  static BackendCatalog catalog;
  return catalog;
}

namespace {

// A Pool of one backend's instances over weights loaded once.
class PooledModel final : public Model {
 public:
  PooledModel(Capabilities capabilities, WeightsRef weights, std::unique_ptr<Pool> pool, std::string describe,
              std::shared_ptr<const std::atomic<std::size_t>> instance_bytes)
      : capabilities_(capabilities), weights_(std::move(weights)), pool_(std::move(pool)),
        instance_bytes_(std::move(instance_bytes)), describe_(std::move(describe)) {}
  ~PooledModel() override { pool_.reset(); }  // the instances go before their weights

  Capabilities capabilities() const override { return capabilities_; }

  Result<InferStats> infer(const Request& request, Sink& sink, Deadline deadline, std::stop_token stop) override {
    const Clock::time_point arrived = Clock::now();
    Result<Lease> lease = pool_->acquire(deadline, stop);
    if (!lease.ok()) return lease.status();
    DeadlineStop timed(deadline, stop);  // the run ends at the deadline too
    Result<InferStats> r = run(*lease, request, sink, timed.token(), arrived);
    if (!r.ok() && timed.expired()) return past_deadline(arrived);
    return r;
  }

  std::optional<Result<InferStats>> infer_now(const Request& request, Sink& sink) override {
    const Clock::time_point arrived = Clock::now();
    Result<Lease> lease = pool_->try_acquire();
    if (!lease.ok() || !(*lease)->quick()) return std::nullopt;
    return run(*lease, request, sink, {}, arrived);
  }

  Result<GenerationResult> generate(const GenerationRequest& request, Deadline deadline,
                                    std::stop_token stop) override {
    const Clock::time_point t0 = Clock::now();
    Result<Lease> lease = pool_->acquire(deadline, stop);
    if (!lease.ok()) return lease.status();
    DeadlineStop timed(deadline, stop);
    Result<GenerationResult> r = [&]() -> Result<GenerationResult> {
      try {
        return (*lease)->generate(request, nullptr, t0, timed.token());
      } catch (const std::exception& e) {
        return internal_error(std::string("the model failed: ") + e.what());
      }
    }();
    if (!r.ok() && r.status().code() == StatusCode::kInternal) lease->mark_broken(r.status().message());
    if (!r.ok() && timed.expired()) return past_deadline(t0);
    return r;
  }

  ModelStats stats() const override {
    ModelStats s;
    s.pool = pool_->snapshot();
    s.weights_bytes = weights_ ? weights_->bytes() : 0;
    s.instance_bytes = instance_bytes_->load(std::memory_order_relaxed);
    return s;
  }
  std::string describe() const override { return describe_; }
  Status shutdown(std::chrono::milliseconds timeout) override { return pool_->shutdown(timeout); }

 private:
  Status past_deadline(Clock::time_point arrived) const {
    return timeout_error("deadline passed while model '" + pool_->options().name + "' ran the request (after " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - arrived)
                                            .count()) +
                         " ms)");
  }

  static Result<InferStats> run(Lease& lease, const Request& request, Sink& sink, std::stop_token stop,
                                Clock::time_point arrived) {
    InferStats stats;
    const Clock::time_point granted = Clock::now();
    stats.queue_wait = granted - arrived;
    Status status;
    try {
      status = lease->run(request, sink, stop);
    } catch (const std::exception& e) {
      status = internal_error(std::string("the model failed: ") + e.what());
    }
    stats.run = Clock::now() - granted;
    if (status.code() == StatusCode::kInternal) lease.mark_broken(status.message());
    if (!status.ok()) return status;
    return stats;
  }

  const Capabilities capabilities_;
  WeightsRef weights_;
  std::unique_ptr<Pool> pool_;
  // The own state of the latest instance created (Instance::bytes()).
  std::shared_ptr<const std::atomic<std::size_t>> instance_bytes_;
  const std::string describe_;
};

}  // namespace

Result<std::unique_ptr<Model>> open_pooled_model(Backend& backend, Registry& registry, const ModelSpec& spec,
                                                 const ServeOptions& serve) {
  if (serve.mode != ServeOptions::Mode::kExclusive) {
    return invalid_argument_error("backend '" + std::string(backend.name()) + "' has no batched mode");
  }
  auto weights = registry.get(spec);
  if (!weights.ok()) return weights.status();
  PoolOptions po;
  po.name = spec.name;
  po.min_instances = serve.min_instances;
  po.max_instances = serve.max_instances;
  po.max_queue = serve.max_queue;
  po.warmup = serve.warmup;
  po.eager = true;
  po.on_progress = serve.on_instance;
  po.autoscale = serve.autoscale;
  po.memory_budget = serve.memory_budget;
  po.on_growth_refused = serve.on_growth_refused;
  std::shared_ptr<const Weights> shared = weights->shared();
  Backend* b = &backend;  // the catalog outlives every model
  auto instance_bytes = std::make_shared<std::atomic<std::size_t>>(0);
  auto pool = Pool::create(
      [b, shared, spec, instance_bytes] {
        Result<std::unique_ptr<Instance>> made = b->instantiate(shared, spec);
        if (made.ok() && *made) instance_bytes->store((*made)->bytes(), std::memory_order_relaxed);
        return made;
      },
      po);
  if (!pool.ok()) return pool.status();
  if (Status s = (*pool)->wait_ready(); !s.ok()) return s;
  char weights_mib[32];
  std::snprintf(weights_mib, sizeof weights_mib, "%.1f MiB", static_cast<double>((*weights)->bytes()) / (1 << 20));
  const std::string describe = std::string(backend.name()) + ", instances [" + std::to_string(serve.min_instances) +
                               ", " + std::to_string(serve.max_instances) + "], weights " + weights_mib +
                               ", max queue " + std::to_string(serve.max_queue);
  return std::unique_ptr<Model>(std::make_unique<PooledModel>(backend.info().capabilities, std::move(*weights),
                                                              std::move(*pool), describe, std::move(instance_bytes)));
}

}  // namespace modelpool
