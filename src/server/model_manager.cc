#include "server/model_manager.h"

#include <algorithm>

#include "backends/llama/llama_backend.h"

namespace modelpool::server {

ServedModel::ServedModel(ModelConfig config, std::unique_ptr<LlmService> llm)
    : config_(std::move(config)), llm_(std::move(llm)) {}

ServedModel::ServedModel(ModelConfig config, WeightsRef weights, std::unique_ptr<Pool> pool)
    : config_(std::move(config)), weights_(std::move(weights)), pool_(std::move(pool)) {}

ServedModel::~ServedModel() {
  // The pool's instances go before the weights they use.
  pool_.reset();
  llm_.reset();
}

std::size_t ServedModel::weights_bytes() const {
  if (llm_) return llm_->info().weights_bytes;
  return weights_ ? weights_->bytes() : 0;
}

PoolSnapshot ServedModel::snapshot() const { return llm_ ? llm_->snapshot() : pool_->snapshot(); }

void ServedModel::shutdown(std::chrono::milliseconds timeout) {
  if (llm_) llm_->shutdown(timeout).ignore();
  if (pool_) pool_->shutdown(timeout).ignore();
}

ModelManager::ModelManager(std::vector<ModelConfig> configured)
    : registry_([] {
        RegistryOptions o;
        o.unload_after_idle = std::chrono::milliseconds(0);  // unload frees memory at once
        return o;
      }()),
      configured_(std::move(configured)) {
  for (const ModelConfig& c : configured_) entries_[c.name];
}

ModelManager::~ModelManager() { shutdown_all(std::chrono::milliseconds(1000)); }

const ModelConfig* ModelManager::configured(const std::string& name) const {
  for (const ModelConfig& c : configured_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<std::shared_ptr<ServedModel>> ModelManager::build(const ModelConfig& c) {
  ModelSpec spec;
  spec.name = c.name;
  spec.backend = c.backend;
  spec.path = c.path;
  if (c.backend == "llama") {
    ModelSpec with_options = spec;
    with_options.options = c.options;
    auto o = llama::llm_options(with_options, serve_options(c));
    if (!o.ok()) return o.status();
    auto llm = LlmService::create(registry_, spec, *o);  // holds the weights while it lives
    if (!llm.ok()) return llm.status();
    return std::make_shared<ServedModel>(c, std::move(*llm));
  }
  spec.options = c.options;
  auto backend = default_catalog().find(c.backend);
  if (!backend.ok()) return backend.status();
  auto weights = registry_.get(spec);
  if (!weights.ok()) return weights.status();
  PoolOptions po;
  po.name = c.name;
  po.min_instances = c.min_instances;
  po.max_instances = c.max_instances;
  po.max_queue = c.max_queue;
  po.warmup = c.warmup;
  po.eager = true;
  auto shared = weights->shared();
  std::shared_ptr<Backend> b = *backend;
  auto pool = Pool::create([b, shared, spec] { return b->instantiate(shared, spec); }, po);
  if (!pool.ok()) return pool.status();
  if (Status s = (*pool)->wait_ready(); !s.ok()) return s;
  return std::make_shared<ServedModel>(c, std::move(*weights), std::move(*pool));
}

Status ModelManager::load(const ModelConfig& config) {
  if (Status s = validate_model(config); !s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    Entry& e = entries_[config.name];
    if (e.state == "READY" || e.state == "LOADING") {
      return invalid_argument_error("model '" + config.name + "' is already " + e.state);
    }
    e.state = "LOADING";
    e.reason.clear();
  }
  auto built = build(config);  // slow, off the lock
  std::lock_guard lock(mu_);
  Entry& e = entries_[config.name];
  if (!built.ok()) {
    e.state = "UNAVAILABLE";
    e.reason = built.status().to_string();
    return built.status();
  }
  e.state = "READY";
  e.model = std::move(*built);
  return {};
}

Status ModelManager::load(const std::string& name) {
  const ModelConfig* c = configured(name);
  if (c == nullptr) return not_found_error("no model named '" + name + "' in the repository");
  return load(*c);
}

Status ModelManager::unload(const std::string& name, std::chrono::milliseconds timeout) {
  std::shared_ptr<ServedModel> model;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.state != "READY") {
      return not_found_error("model '" + name + "' is not loaded");
    }
    model = std::move(it->second.model);
    it->second.state = "UNAVAILABLE";
    it->second.reason = "unloaded";
    if (configured(name) == nullptr) entries_.erase(it);
  }
  model->shutdown(timeout);
  return {};  // freed when the last request holding it finishes
}

std::shared_ptr<ServedModel> ModelManager::find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.model;
}

std::vector<ModelState> ModelManager::index() const {
  std::lock_guard lock(mu_);
  std::vector<ModelState> out;
  for (const auto& [name, e] : entries_) out.push_back({name, e.state, e.reason});
  return out;
}

std::vector<std::shared_ptr<ServedModel>> ModelManager::ready_models() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<ServedModel>> out;
  for (const auto& [name, e] : entries_) {
    if (e.model) out.push_back(e.model);
  }
  return out;
}

bool ModelManager::all_ready() const {
  std::lock_guard lock(mu_);
  for (const ModelConfig& c : configured_) {
    auto it = entries_.find(c.name);
    if (it == entries_.end() || it->second.state != "READY") return false;
  }
  return true;
}

void ModelManager::shutdown_all(std::chrono::milliseconds timeout) {
  std::vector<std::shared_ptr<ServedModel>> models;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, e] : entries_) {
      if (e.model) models.push_back(std::move(e.model));
      e.state = "UNAVAILABLE";
      e.reason = "shutting down";
    }
  }
  for (auto& m : models) m->shutdown(timeout);
}

}  // namespace modelpool::server
