#include "modelpool/registry.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace modelpool {
namespace internal {

using Clock = std::chrono::steady_clock;

// Guarded by RegistryCore::mu, except `weights`, constant once loaded.
struct RegistryEntry {
  std::string key;
  std::string name;
  bool loading = true;
  Status error;  // set when the load failed
  std::shared_ptr<const Weights> weights;
  std::size_t refs = 0;
  Clock::time_point idle_since{};
  double load_seconds = 0;
};

struct RegistryCore {
  Registry::Loader loader;
  RegistryOptions options;

  std::mutex mu;
  std::condition_variable loaded_cv;   // a load finished
  std::condition_variable janitor_cv;  // wakes the janitor
  std::map<std::string, std::shared_ptr<RegistryEntry>> entries;  // guarded by mu
  std::uint64_t loads = 0;
  std::uint64_t hits = 0;  // guarded by mu                                        // guarded by mu
  bool stopping = false;                                          // guarded by mu

  // Drops idle entries; returns their weights so the caller frees them off
  // the lock. REQUIRES: mu held.
  std::vector<std::shared_ptr<const Weights>> sweep_locked(Clock::time_point now) {
    std::vector<std::shared_ptr<const Weights>> dropped;
    for (auto it = entries.begin(); it != entries.end();) {
      RegistryEntry& e = *it->second;
      if (!e.loading && e.refs == 0 && now - e.idle_since >= options.unload_after_idle) {
        dropped.push_back(std::move(e.weights));
        it = entries.erase(it);
      } else {
        ++it;
      }
    }
    return dropped;
  }

  void release(const std::shared_ptr<RegistryEntry>& entry) {
    std::vector<std::shared_ptr<const Weights>> dropped;
    {
      std::lock_guard lock(mu);
      if (--entry->refs == 0) {
        entry->idle_since = Clock::now();
        if (options.unload_after_idle.count() == 0) dropped = sweep_locked(entry->idle_since);
      }
    }
    // `dropped` frees the weights here, without the lock.
  }
};

}  // namespace internal

using internal::Clock;
using internal::RegistryCore;
using internal::RegistryEntry;

WeightsRef::WeightsRef(std::shared_ptr<RegistryCore> core, std::shared_ptr<RegistryEntry> entry)
    : core_(std::move(core)), entry_(std::move(entry)), weights_(entry_->weights) {}

WeightsRef::WeightsRef(WeightsRef&& other) noexcept
    : core_(std::move(other.core_)),
      entry_(std::move(other.entry_)),
      weights_(std::move(other.weights_)) {}

WeightsRef& WeightsRef::operator=(WeightsRef&& other) noexcept {
  if (this != &other) {
    reset();
    core_ = std::move(other.core_);
    entry_ = std::move(other.entry_);
    weights_ = std::move(other.weights_);
  }
  return *this;
}

void WeightsRef::reset() {
  if (!entry_) return;
  weights_.reset();
  core_->release(entry_);
  entry_.reset();
  core_.reset();
}

Registry::Registry(RegistryOptions options, const BackendCatalog& catalog)
    : Registry(
          [&catalog](const ModelSpec& spec, const ProgressFn& progress) -> Result<std::shared_ptr<const Weights>> {
            auto backend = catalog.find(spec.backend);
            if (!backend.ok()) return backend.status();
            return (*backend)->load(spec, progress);
          },
          std::move(options)) {}

Registry::Registry(Loader loader, RegistryOptions options)
    : core_(std::make_shared<RegistryCore>()) {
  core_->loader = std::move(loader);
  core_->options = std::move(options);
  const auto ttl = core_->options.unload_after_idle;
  if (ttl.count() > 0) {
    const auto period = std::min<std::chrono::milliseconds>(ttl, std::chrono::seconds(1));
    janitor_ = std::jthread([core = core_, period] {
      std::unique_lock lock(core->mu);
      while (!core->stopping) {
        core->janitor_cv.wait_for(lock, period);
        auto dropped = core->sweep_locked(Clock::now());
        lock.unlock();
        dropped.clear();  // frees weights off the lock
        lock.lock();
      }
    });
  }
}

Registry::~Registry() {
  // Entries still referenced stay alive through their WeightsRefs' core.
  std::lock_guard lock(core_->mu);
  core_->stopping = true;
  core_->janitor_cv.notify_all();
}

Result<WeightsRef> Registry::get(const ModelSpec& spec) {
  const std::string key = spec.key();
  std::unique_lock lock(core_->mu);
  auto it = core_->entries.find(key);
  if (it != core_->entries.end()) {
    std::shared_ptr<RegistryEntry> entry = it->second;
    ++core_->hits;
    ++entry->refs;  // held while waiting, so a finished load is not swept
    core_->loaded_cv.wait(lock, [&] { return !entry->loading; });
    if (!entry->error.ok()) {
      --entry->refs;
      return entry->error;
    }
    return WeightsRef(core_, entry);
  }

  auto entry = std::make_shared<RegistryEntry>();
  entry->key = key;
  entry->name = spec.name;
  entry->refs = 1;
  core_->entries.emplace(key, entry);
  ++core_->loads;
  lock.unlock();

  ProgressFn progress;
  if (core_->options.on_load_progress) {
    progress = [this, &key](double f) { core_->options.on_load_progress(key, f); };
  }
  const Clock::time_point start = Clock::now();
  Result<std::shared_ptr<const Weights>> loaded = internal_error("load threw");
  try {
    loaded = core_->loader(spec, progress);
    if (loaded.ok() && *loaded == nullptr) loaded = internal_error("load returned no weights");
  } catch (const std::exception& e) {
    loaded = internal_error(std::string("loading '") + spec.name + "' threw: " + e.what());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (loaded.ok() && core_->options.memory_budget) {
    // The weights hold their bytes against the budget for as long as they
    // live (instances may keep them past the registry's entry).
    struct Held {
      MemoryReservation reservation;  // declared first: given back last
      std::shared_ptr<const Weights> weights;
    };
    Result<MemoryReservation> r =
        core_->options.memory_budget->reserve((*loaded)->bytes(), "model '" + spec.name + "': its weights");
    if (r.ok()) {
      auto held = std::make_shared<Held>(Held{std::move(*r), std::move(*loaded)});
      loaded = std::shared_ptr<const Weights>(held, held->weights.get());
    } else {
      loaded = r.status();  // the weights are freed here, off the lock
    }
  }

  lock.lock();
  entry->loading = false;
  if (loaded.ok()) {
    entry->weights = *loaded;
    entry->load_seconds = seconds;
  } else {
    // Not cached: the next get() of this key loads again.
    entry->error = loaded.status();
    entry->refs = 0;
    core_->entries.erase(key);
  }
  core_->loaded_cv.notify_all();
  if (!loaded.ok()) return loaded.status();
  if (core_->options.unload_after_idle.count() > 0) core_->janitor_cv.notify_all();
  return WeightsRef(core_, entry);
}

std::size_t Registry::unload_idle() {
  std::vector<std::shared_ptr<const Weights>> dropped;
  {
    std::lock_guard lock(core_->mu);
    dropped = core_->sweep_locked(Clock::now());
  }
  return dropped.size();
}

std::uint64_t Registry::load_count() const {
  std::lock_guard lock(core_->mu);
  return core_->loads;
}

std::uint64_t Registry::hit_count() const {
  std::lock_guard lock(core_->mu);
  return core_->hits;
}

std::vector<RegistryEntryInfo> Registry::snapshot() const {
  std::vector<RegistryEntryInfo> out;
  std::lock_guard lock(core_->mu);
  for (const auto& [key, e] : core_->entries) {
    out.push_back({key, e->name, !e->loading, e->refs, e->weights ? e->weights->bytes() : 0,
                   e->load_seconds});
  }
  return out;
}

}  // namespace modelpool
