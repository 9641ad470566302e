// The sim backend: a synthetic model with real costs, for tests and
// benchmarks.
//
// Its weights are memory really allocated and touched (weights_mb), shared by
// every instance, or copied into each instance when share_weights is false
// (the naive pool). Each instance really allocates instance_mb. A run takes
// service_ms either sleeping (an I/O- or accelerator-bound model: instances
// overlap freely) or burning that much CPU time on its own thread (a
// CPU-bound model: instances compete for cores). A run echoes its inputs as
// outputs (same names, shapes, datatypes).
//
// Options (ModelSpec::options, all optional) are its schema, published in
// info().options with types, ranges, defaults and a line each (`modelpool
// backends` lists them): sizes and timings (load_ms, weights_mb,
// instance_mb, share_weights, service_ms, service) and failure injection,
// counted per model across its instances (fail_load, fail_create,
// fail_run_every, throw_run_every, hang_run_every, fail_check_every).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "modelpool/backend.h"

namespace modelpool {

struct SimConfig {
  enum class Service { kSleep, kCpu };

  std::chrono::milliseconds load_time{0};
  std::size_t weights_bytes = 0;
  std::size_t instance_bytes = 0;
  bool share_weights = true;
  std::chrono::microseconds service_time{0};
  Service service = Service::kSleep;

  bool fail_load = false;
  std::int64_t fail_create = 0;
  std::int64_t fail_run_every = 0;
  std::int64_t throw_run_every = 0;
  std::int64_t hang_run_every = 0;
  std::int64_t fail_check_every = 0;

  // Reads spec.options through the sim schema (SimBackend::info().options);
  // kInvalidArgument names a bad or unknown key.
  static Result<SimConfig> from_options(const ModelSpec& spec);
};

class SimBackend final : public Backend {
 public:
  const BackendInfo& info() const override;
  Result<std::shared_ptr<const Weights>> load(const ModelSpec& spec,
                                              const ProgressFn& progress) override;
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights> weights,
                                                const ModelSpec& spec) override;
};

}  // namespace modelpool
