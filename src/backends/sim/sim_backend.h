// The sim backend: a synthetic model with real costs, for tests and
// benchmarks.
//
// Its weights are memory really allocated and touched (weights_mb), shared by
// every instance, or copied into each instance when share_weights is false
// (the naive pool). Each instance really allocates instance_mb. A run takes
// service_ms either sleeping (an I/O- or accelerator-bound model: instances
// overlap freely) or burning that much CPU time on its own thread (a
// CPU-bound model: instances compete for cores). A run echoes its inputs as
// outputs (same names, shapes, datatypes). It serves kInfer only (no
// generate), so every injected fault below happens in run().
//
// Options (ModelSpec::options, all optional) are its schema, published in
// info().options with types, ranges, defaults and a line each (`modelpool
// backends` lists them): sizes and timings (load_ms, weights_mb,
// instance_mb, share_weights, service_ms, service) and fault injection. The
// counters of fault injection belong to the loaded weights: they count
// across a model's instances in one process (a worker process counts its
// own).
//
// Faults a server survives in its own process:
//   fail_load, fail_create    loading or the first N creations fail
//   fail_run_every            every Nth run returns kInternal
//   throw_run_every           every Nth run throws
//   hang_run_every            every Nth run blocks until its stop token is
//                             requested, then returns kCancelled
//   fail_check_every          every Nth health check fails
//   leak_mb_per_run           every run allocates and touches that many MiB
//                             it never gives back (a leaking engine: resident,
//                             not in bytes(); returned only when the weights
//                             are unloaded, which in a worker process is
//                             its exit)
// Faults only a worker process survives (SimBackend::check refuses them
// unless ServeOptions::isolation is "process"):
//   crash_after               the Nth run kills the process
//   crash_probability         each run kills it with this probability (a
//                             PRNG per weights, seeded by crash_seed; 0: a
//                             random seed)
//   crash_signal              the signal it dies by: SIGSEGV (default),
//                             SIGABRT, SIGKILL, SIGBUS; no core file is
//                             written
//   crash_streamed            the run first writes its outputs to the sink,
//                             then dies (a crash after output started);
//                             without it, it dies before writing anything
//   hang_ignores_stop         a hung run (hang_run_every) ignores its stop
//                             token too: only killing the process ends it
// A run chosen to crash crashes whatever else was asked of it (its fail,
// throw or hang injections are skipped; a stop does not prevent it).
#pragma once

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelpool/backend.h"
#include "modelpool/model.h"

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
  std::size_t leak_bytes_per_run = 0;
  bool hang_ignores_stop = false;
  // Kill the process (only with ServeOptions::isolation "process").
  std::int64_t crash_after = 0;
  double crash_probability = 0;
  std::uint64_t crash_seed = 0;  // 0: a random seed per weights
  int crash_signal = SIGSEGV;
  bool crash_streamed = false;

  // Whether any option kills the process a run happens in, or hangs it for
  // good: the name of the first such option given, else empty.
  std::string_view needs_process_isolation() const;

  // Reads spec.options through the sim schema (SimBackend::info().options);
  // kInvalidArgument names a bad or unknown key.
  static Result<SimConfig> from_options(const ModelSpec& spec);
};

class SimBackend final : public Backend {
 public:
  const BackendInfo& info() const override;
  // The schema, then: the faults that kill or wedge the process they run in
  // (crash_after, crash_probability, hang_ignores_stop) need
  // serve.isolation == "process"; kInvalidArgument naming the option.
  Status check(const ModelSpec& spec, const ServeOptions& serve) const override;
  // service = "sleep" computes on no thread; "cpu", one per instance.
  ComputeThreads compute_threads(const ModelSpec& spec, const ServeOptions& serve) const override;
  Result<std::shared_ptr<const Weights>> load(const ModelSpec& spec,
                                              const ProgressFn& progress) override;
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights> weights,
                                                const ModelSpec& spec) override;
};

}  // namespace modelpool
