#include "server/model_manager.h"

#include "modelpool/executor.h"

#include <algorithm>


namespace modelpool::server {

ServedModel::ServedModel(ModelConfig config, std::unique_ptr<Model> model)
    : config_(std::move(config)), model_(std::move(model)) {}

void ServedModel::shutdown(std::chrono::milliseconds timeout) { model_->shutdown(timeout).ignore(); }

ModelManager::ModelManager(std::vector<ModelConfig> configured, const BackendCatalog& catalog,
                           std::shared_ptr<MemoryBudget> memory_budget)
    : catalog_(catalog),
      memory_budget_(std::move(memory_budget)),
      registry_(
          [this] {
            RegistryOptions o;
            o.unload_after_idle = std::chrono::milliseconds(0);  // unload frees memory at once
            o.memory_budget = memory_budget_;
            return o;
          }(),
          catalog),
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
  auto backend = catalog_.find(c.backend);
  if (!backend.ok()) return backend.status();
  const ModelSpec spec = model_spec(c);
  ServeOptions serve = serve_options(c, catalog_);
  if (on_instance_) {
    serve.on_instance = [fn = on_instance_, name = c.name](const PoolProgress& p) { fn(name, p); };
  }
  serve.memory_budget = memory_budget_;
  if (on_growth_refused_) {
    serve.on_growth_refused = [fn = on_growth_refused_, name = c.name](const Status& s) { fn(name, s); };
  }
  if (Status s = (*backend)->check(spec, serve); !s.ok()) return s;
  auto executor = catalog_.find_executor(serve.isolation);
  if (!executor.ok()) return executor.status();
  auto model = (*executor)->open(**backend, registry_, spec, serve);
  if (!model.ok()) return model.status();
  return std::make_shared<ServedModel>(c, std::move(*model));
}

Status ModelManager::load(const ModelConfig& config) {
  if (Status s = validate_model(config, catalog_); !s.ok()) return s;
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
  {
    std::lock_guard lock(mu_);
    for (const ModelConfig& c : configured_) {
      auto it = entries_.find(c.name);
      if (it == entries_.end() || it->second.state != "READY") return false;
    }
  }
  return unready_reason().empty();
}

std::string ModelManager::unready_reason() const {
  for (const auto& m : ready_models()) {  // stats() off the lock
    if (std::string why = m->model().stats().unready_reason; !why.empty()) return why;
  }
  return {};
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
