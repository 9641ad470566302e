// ModelManager: the models a server serves, by name, loaded and unloaded at
// run time without disturbing the others.
//
// A ServedModel is a Model (model.h) opened by the backend its config names
// with the executor its `isolation` names (executor.h), both found in the
// backend catalog: the manager knows no engine or executor by name. Loading
// is slow and happens off the caller's lock; while a model loads its state is
// "LOADING" and requests to it get 503; requests to other models go on.
#pragma once

#include <atomic>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "modelpool/histogram.h"
#include "modelpool/memory_budget.h"
#include "modelpool/model.h"
#include "modelpool/pool.h"
#include "modelpool/registry.h"
#include "server/config.h"
#include "server/model_metrics.h"

namespace modelpool::server {

class ServedModel {
 public:
  ServedModel(ModelConfig config, std::unique_ptr<Model> model);

  const ModelConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  Model& model() const { return *model_; }
  bool can(Capability c) const { return has(model_->capabilities(), c); }
  // Wakes waiters with kShuttingDown and waits (bounded) for work in flight.
  void shutdown(std::chrono::milliseconds timeout);

  ModelMetrics metrics;

 private:
  const ModelConfig config_;
  const std::unique_ptr<Model> model_;
};


struct ModelState {
  std::string name;
  std::string state;  // READY, LOADING, UNAVAILABLE
  std::string reason;
};

class ModelManager {
 public:
  // Opens models through the backends in `catalog`, which must outlive it.
  // With a `memory_budget`, every model's weights, instances and engine
  // state reserve their bytes in it first (memory_budget.h).
  explicit ModelManager(std::vector<ModelConfig> configured,
                        const BackendCatalog& catalog = default_catalog(),
                        std::shared_ptr<MemoryBudget> memory_budget = nullptr);
  ~ModelManager();

  // The registry the models' weights are shared through (its counters, for
  // metrics).
  const Registry& registry() const { return registry_; }
  // The process's memory budget; null when there is none.
  const std::shared_ptr<MemoryBudget>& memory_budget() const { return memory_budget_; }

  // Called after each attempt to create an instance of a model (its name,
  // the pool's progress), for start-up progress. Set before loading.
  void set_on_instance(std::function<void(const std::string& model, const PoolProgress&)> fn) {
    on_instance_ = std::move(fn);
  }
  // Called when the memory budget first refuses a model's growth (its name,
  // the budget's error). Set before loading.
  void set_on_growth_refused(std::function<void(const std::string& model, const Status&)> fn) {
    on_growth_refused_ = std::move(fn);
  }

  // Loads `config` (blocking; call off the I/O threads). A model of that name
  // already READY or LOADING: kInvalidArgument. On failure the model is
  // UNAVAILABLE with the reason, and the error is returned.
  Status load(const ModelConfig& config);
  // Loads a configured model by name (kNotFound when there is none).
  Status load(const std::string& name);
  // Stops serving `name`: new requests get 404, waiters 503; waits for work
  // in flight up to `timeout`, then frees it. kNotFound when not loaded.
  Status unload(const std::string& name, std::chrono::milliseconds timeout);

  // The model if READY, else null.
  std::shared_ptr<ServedModel> find(const std::string& name) const;
  // Every configured or loaded model with its state.
  std::vector<ModelState> index() const;
  std::vector<std::shared_ptr<ServedModel>> ready_models() const;
  // True when every configured model is READY (its minimum instances warm)
  // and none reports a reason it cannot serve (ModelStats::unready_reason).
  bool all_ready() const;
  // The first loaded model's reason it cannot serve, as "model 'm': ...";
  // empty when every loaded model can.
  std::string unready_reason() const;
  // The configuration of a configured model, if any.
  const ModelConfig* configured(const std::string& name) const;

  void shutdown_all(std::chrono::milliseconds timeout);

 private:
  struct Entry {
    std::string state = "UNAVAILABLE";
    std::string reason;
    std::shared_ptr<ServedModel> model;
  };

  Result<std::shared_ptr<ServedModel>> build(const ModelConfig& config);

  const BackendCatalog& catalog_;
  std::function<void(const std::string&, const PoolProgress&)> on_instance_;  // set before loading
  std::function<void(const std::string&, const Status&)> on_growth_refused_;  // set before loading
  const std::shared_ptr<MemoryBudget> memory_budget_;
  Registry registry_;
  const std::vector<ModelConfig> configured_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace modelpool::server
