// Registry: loads each model's weights once and shares them.
//
//   Registry registry({.unload_after_idle = std::chrono::seconds(60)});
//   Result<WeightsRef> weights = registry.get(spec);   // loads or joins a load
//   if (!weights.ok()) return weights.status();
//   backend->instantiate(weights->shared(), spec);     // instances share them
//
// * Single flight: any number of threads asking for the same key at once
//   cause exactly one Backend::load; all of them get its result.
// * Failures reach every caller that waited on that load and are not cached:
//   the next get() loads again.
// * Reference counted: each WeightsRef is one reference. When the last one is
//   released the weights stay loaded for unload_after_idle (a model reloaded
//   soon after is not loaded twice), then the registry drops them. Instances
//   that still hold the shared_ptr keep the memory alive until they go.
//
// Thread safety: all methods may be called from any thread. A WeightsRef may
// outlive the Registry that made it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/memory_budget.h"
#include "modelpool/status.h"

namespace modelpool {

struct RegistryOptions {
  // How long unreferenced weights stay loaded. 0: drop them at once.
  std::chrono::milliseconds unload_after_idle{60000};
  // Called during a load with the model key and the fraction done.
  std::function<void(const std::string& key, double fraction)> on_load_progress;
  // Loaded weights hold Weights::bytes() against this budget for as long as
  // they live; a load the budget refuses fails with its error (kModelFailed)
  // and is not cached. Null: no budget.
  std::shared_ptr<MemoryBudget> memory_budget;
};

// What the registry holds for one key, for metrics and tests.
struct RegistryEntryInfo {
  std::string key;
  std::string name;
  bool loaded = false;  // false while loading
  std::size_t refs = 0;
  std::size_t bytes = 0;
  double load_seconds = 0;
};

namespace internal {
struct RegistryCore;
struct RegistryEntry;
}  // namespace internal

// One reference to loaded weights. Move-only; releases on destruction.
class WeightsRef {
 public:
  WeightsRef() = default;
  ~WeightsRef() { reset(); }
  WeightsRef(WeightsRef&& other) noexcept;
  WeightsRef& operator=(WeightsRef&& other) noexcept;
  WeightsRef(const WeightsRef&) = delete;
  WeightsRef& operator=(const WeightsRef&) = delete;

  explicit operator bool() const { return weights_ != nullptr; }
  // REQUIRES: non-empty.
  const Weights& operator*() const { return *weights_; }
  const Weights* operator->() const { return weights_.get(); }
  // The weights themselves, to hand to Backend::instantiate.
  const std::shared_ptr<const Weights>& shared() const { return weights_; }

  // Drops this reference now (idempotent).
  void reset();

 private:
  friend class Registry;
  WeightsRef(std::shared_ptr<internal::RegistryCore> core,
             std::shared_ptr<internal::RegistryEntry> entry);

  std::shared_ptr<internal::RegistryCore> core_;
  std::shared_ptr<internal::RegistryEntry> entry_;
  std::shared_ptr<const Weights> weights_;
};

class Registry {
 public:
  using Loader =
      std::function<Result<std::shared_ptr<const Weights>>(const ModelSpec&, const ProgressFn&)>;

  // Loads through the backend named in each spec, found in `catalog`
  // (which must outlive the registry).
  explicit Registry(RegistryOptions options = {}, const BackendCatalog& catalog = default_catalog());
  // Loads through `loader` (tests, custom engines).
  Registry(Loader loader, RegistryOptions options);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The weights for spec.key(), loading them if needed (single flight).
  // Blocks while a load of the same key is under way. Errors: whatever the
  // load returned (kNotFound, kInvalidArgument, kModelFailed...).
  Result<WeightsRef> get(const ModelSpec& spec);

  // Drops now every entry unreferenced for at least unload_after_idle.
  // Returns how many were dropped. (A background thread also does this.)
  std::size_t unload_idle();

  // How many Backend::load calls have been made so far (all keys).
  std::uint64_t load_count() const;
  // How many get() calls found their key loaded or loading, and shared it
  // instead of loading again (all keys).
  std::uint64_t hit_count() const;

  std::vector<RegistryEntryInfo> snapshot() const;

 private:
  std::shared_ptr<internal::RegistryCore> core_;
  std::jthread janitor_;  // runs unload_idle() periodically; none when the TTL is 0
};

}  // namespace modelpool
