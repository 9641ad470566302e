#include "backends/sim/sim_backend.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace modelpool {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

// Anonymous memory, every page written so it is really resident (a buffer
// only reserved would not show in PSS and would measure nothing).
class TouchedMemory {
 public:
  TouchedMemory() = default;
  explicit TouchedMemory(std::size_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("sim: mmap of " + std::to_string(bytes) + " bytes failed");
    data_ = static_cast<unsigned char*>(p);
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    for (std::size_t i = 0; i < bytes; i += page) data_[i] = static_cast<unsigned char>(i / page | 1);
  }
  ~TouchedMemory() {
    if (data_ != nullptr) munmap(data_, bytes_);
  }
  TouchedMemory(const TouchedMemory&) = delete;
  TouchedMemory& operator=(const TouchedMemory&) = delete;

  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_ = 0;
  unsigned char* data_ = nullptr;
};

// SplitMix64's output function: a good 64-bit mix of `x`.
std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class SimWeights final : public Weights {
 public:
  // Without sharing, every instance holds its own copy and the shared part
  // is empty, like a pool that loads the model once per instance.
  explicit SimWeights(const SimConfig& config)
      : config(config),
        crash_seed(config.crash_seed != 0
                       ? config.crash_seed
                       : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()),
        memory_(config.share_weights ? config.weights_bytes : 0) {}
  // The leaked memory is not counted: a leaking engine does not know it.
  std::size_t bytes() const override { return memory_.bytes(); }

  // Whether run number `n` (from 1) kills the process. The PRNG is a
  // counter-based one (the seed's stream at position n), so runs racing on
  // several instances need no lock and a seed replays the same runs.
  bool crashes_on(std::int64_t n) const {
    if (config.crash_after > 0 && n == config.crash_after) return true;
    if (config.crash_probability <= 0) return false;
    const std::uint64_t draw = mix64(crash_seed ^ mix64(static_cast<std::uint64_t>(n)));
    const double uniform = static_cast<double>(draw >> 11) * 0x1.0p-53;  // [0, 1)
    return uniform < config.crash_probability;
  }

  // leak_mb_per_run: memory kept until the weights go.
  void leak(std::size_t bytes) const {
    auto memory = std::make_unique<TouchedMemory>(bytes);
    std::lock_guard lock(leak_mu_);
    leaked_.push_back(std::move(memory));
  }

  const SimConfig config;
  const std::uint64_t crash_seed;
  // Failure-injection counters: test state, not model state.
  mutable std::atomic<std::int64_t> creates{0};
  mutable std::atomic<std::int64_t> runs{0};
  mutable std::atomic<std::int64_t> checks{0};

 private:
  TouchedMemory memory_;
  mutable std::mutex leak_mu_;
  mutable std::vector<std::unique_ptr<TouchedMemory>> leaked_;  // guarded by leak_mu_
};

bool every(std::int64_t n, std::int64_t count) { return n > 0 && count % n == 0; }

// Dies by `sig` as a crashing engine would: the default action, whatever
// handler the process installed (a sanitizer's, a crash reporter's), and no
// core file.
[[noreturn]] void crash_now(int sig) {
  prctl(PR_SET_DUMPABLE, 0);
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
  // Unreachable: the default action of each crash_signal ends the process.
  std::_Exit(128 + sig);
}

// hang_ignores_stop: a run that never returns.
[[noreturn]] void hang_forever() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

class SimInstance final : public Instance {
 public:
  explicit SimInstance(std::shared_ptr<const SimWeights> weights)
      : weights_(std::move(weights)),
        own_weights_(weights_->config.share_weights ? 0 : weights_->config.weights_bytes),
        state_(weights_->config.instance_bytes) {}

  std::size_t bytes() const override { return own_weights_.bytes() + state_.bytes(); }

  Status run(const Request& request, Sink& sink, std::stop_token stop) override {
    const SimConfig& c = weights_->config;
    const std::int64_t n = weights_->runs.fetch_add(1) + 1;
    if (c.leak_bytes_per_run > 0) weights_->leak(c.leak_bytes_per_run);
    const bool crash = weights_->crashes_on(n);
    if (crash && !c.crash_streamed) crash_now(c.crash_signal);
    if (!crash) {
      if (every(c.throw_run_every, n)) {
        throw std::runtime_error("sim: injected throw on run " + std::to_string(n));
      }
      if (every(c.fail_run_every, n)) {
        return internal_error("sim: injected failure on run " + std::to_string(n));
      }
      if (every(c.hang_run_every, n)) {
        if (c.hang_ignores_stop) hang_forever();
        wait(stop, std::chrono::hours(24 * 365));
        return cancelled_error("sim: hung run stopped");
      }
    }
    if (c.service == SimConfig::Service::kSleep) {
      wait(stop, c.service_time);
    } else {
      burn_cpu(stop, std::chrono::duration<double>(c.service_time).count());
    }
    if (stop.stop_requested() && !crash) return cancelled_error("sim: run stopped");
    // The echo: each output shares its input's bytes (Tensor::data is a
    // shared view), so a payload of any size is not copied.
    for (const Tensor& input : request.inputs) {
      if (!sink.write(input)) {
        if (crash) break;
        return cancelled_error("sim: consumer gone");
      }
    }
    if (crash) crash_now(c.crash_signal);  // crash_streamed: after the outputs
    return {};
  }

  // Touching leaked memory is work (about a millisecond per 10 MiB), not
  // for an I/O thread.
  bool quick() const override {
    const SimConfig& c = weights_->config;
    return c.service_time.count() == 0 && c.hang_run_every == 0 && c.leak_bytes_per_run == 0;
  }

  Status check() override {
    const std::int64_t n = weights_->checks.fetch_add(1) + 1;
    if (every(weights_->config.fail_check_every, n)) {
      return internal_error("sim: injected check failure " + std::to_string(n));
    }
    return {};
  }

 private:
  static void wait(std::stop_token stop, std::chrono::microseconds d) {
    if (d.count() <= 0) return;
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, stop, d, [] { return false; });
  }

  // Spends `seconds` of this thread's CPU time: with more runs than cores the
  // wall time stretches, as it would for a real CPU-bound model.
  static void burn_cpu(std::stop_token stop, double seconds) {
    const double until = thread_cpu_seconds() + seconds;
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    while (!stop.stop_requested() && thread_cpu_seconds() < until) {
      for (int i = 0; i < 20000; ++i) {  // ~50 us between clock reads
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
      }
      asm volatile("" : : "r"(x));
    }
  }

  std::shared_ptr<const SimWeights> weights_;
  TouchedMemory own_weights_;
  TouchedMemory state_;
};

}  // namespace

namespace {

constexpr double kMaxMb = 1 << 20;
constexpr double kMaxMs = 3'600'000;
constexpr double kNoMax = OptionSpec::kUnbounded;

const BackendInfo& sim_info() {
  static const BackendInfo info{
      "sim",
      "a synthetic model with real memory and service time, for tests and benchmarks",
      static_cast<Capabilities>(Capability::kInfer),
      /*needs_path=*/false,
      /*batching=*/false,
      {
          OptionSpec::integer("load_ms", 0, kMaxMs, "0", "time loading the weights takes"),
          OptionSpec::integer("weights_mb", 0, kMaxMb, "0",
                              "weight memory, allocated and touched once per model"),
          OptionSpec::boolean("share_weights", true,
                              "`false`: every instance copies the weights (the naive pool)"),
          OptionSpec::integer("instance_mb", 0, kMaxMb, "0", "memory each instance allocates"),
          OptionSpec::number("service_ms", 0, kMaxMs, "0", "time one run takes"),
          OptionSpec::choice("service", {"sleep", "cpu"}, "sleep",
                             "`sleep` (instances overlap freely) or `cpu` (burns that much CPU "
                             "time)"),
          OptionSpec::boolean("fail_load", false, "fault injection: loading fails"),
          OptionSpec::integer("fail_create", -1, kNoMax, "0",
                              "fault injection: the first N instances fail to create (-1: all)"),
          OptionSpec::integer("fail_run_every", 0, kNoMax, "0",
                              "fault injection: every Nth run fails"),
          OptionSpec::integer("throw_run_every", 0, kNoMax, "0",
                              "fault injection: every Nth run throws"),
          OptionSpec::integer("hang_run_every", 0, kNoMax, "0",
                              "fault injection: every Nth run blocks until stopped (for good with "
                              "`hang_ignores_stop`)"),
          OptionSpec::integer("fail_check_every", 0, kNoMax, "0",
                              "fault injection: every Nth health check fails"),
          OptionSpec::integer("leak_mb_per_run", 0, kMaxMb, "0",
                              "fault injection: every run leaks that many MiB (resident)"),
          OptionSpec::boolean("hang_ignores_stop", false,
                              "fault injection: a hung run ignores its stop too (needs isolation "
                              "`process`)"),
          OptionSpec::integer("crash_after", 0, kNoMax, "0",
                              "fault injection: the Nth run kills the process (needs isolation "
                              "`process`)"),
          OptionSpec::number("crash_probability", 0, 1, "0",
                             "fault injection: each run kills the process with this probability "
                             "(needs isolation `process`)"),
          OptionSpec::integer("crash_seed", 0, kNoMax, "0",
                              "the seed of `crash_probability`'s draws (0: a random seed)"),
          OptionSpec::choice("crash_signal", {"SIGSEGV", "SIGABRT", "SIGKILL", "SIGBUS"}, "SIGSEGV",
                             "the signal a crash raises (no core file is written)"),
          OptionSpec::boolean("crash_streamed", false,
                              "a crashing run writes its outputs first (a crash after output "
                              "started)"),
      }};
  return info;
}

}  // namespace

Result<SimConfig> SimConfig::from_options(const ModelSpec& spec) {
  auto v = resolve(sim_info().options, spec.options, "sim model '" + spec.name + "'");
  if (!v.ok()) return v.status();
  SimConfig c;
  c.load_time = std::chrono::milliseconds(v->integer("load_ms"));
  c.weights_bytes = static_cast<std::size_t>(v->integer("weights_mb")) * kMiB;
  c.instance_bytes = static_cast<std::size_t>(v->integer("instance_mb")) * kMiB;
  c.share_weights = v->boolean("share_weights");
  c.service_time =
      std::chrono::microseconds(static_cast<std::int64_t>(v->number("service_ms") * 1000));
  c.service = v->string("service") == "cpu" ? Service::kCpu : Service::kSleep;
  c.fail_load = v->boolean("fail_load");
  c.fail_create = v->integer("fail_create");
  c.fail_run_every = v->integer("fail_run_every");
  c.throw_run_every = v->integer("throw_run_every");
  c.hang_run_every = v->integer("hang_run_every");
  c.fail_check_every = v->integer("fail_check_every");
  c.leak_bytes_per_run = static_cast<std::size_t>(v->integer("leak_mb_per_run")) * kMiB;
  c.hang_ignores_stop = v->boolean("hang_ignores_stop");
  c.crash_after = v->integer("crash_after");
  c.crash_probability = v->number("crash_probability");
  c.crash_seed = static_cast<std::uint64_t>(v->integer("crash_seed"));
  const std::string& sig = v->string("crash_signal");
  c.crash_signal = sig == "SIGABRT"   ? SIGABRT
                   : sig == "SIGKILL" ? SIGKILL
                   : sig == "SIGBUS"  ? SIGBUS
                                      : SIGSEGV;
  c.crash_streamed = v->boolean("crash_streamed");
  return c;
}

std::string_view SimConfig::needs_process_isolation() const {
  if (crash_after > 0) return "crash_after";
  if (crash_probability > 0) return "crash_probability";
  if (hang_ignores_stop) return "hang_ignores_stop";
  return {};
}

Status SimBackend::check(const ModelSpec& spec, const ServeOptions& serve) const {
  auto config = SimConfig::from_options(spec);
  if (!config.ok()) return config.status();
  const std::string_view option = config->needs_process_isolation();
  if (option.empty() || serve.isolation == "process") return {};
  const std::string what = option == "hang_ignores_stop"
                               ? "wedges the process it runs in (only killing it ends the run)"
                               : "kills the process it runs in";
  return invalid_argument_error("sim option '" + std::string(option) + "' " + what +
                                ": it needs isolation = \"process\"");
}

ComputeThreads SimBackend::compute_threads(const ModelSpec& spec, const ServeOptions& serve) const {
  auto config = SimConfig::from_options(spec);
  if (config.ok() && config->service == SimConfig::Service::kSleep) return {0, 1};
  return Backend::compute_threads(spec, serve);
}

const BackendInfo& SimBackend::info() const {
  return sim_info();
}

Result<std::shared_ptr<const Weights>> SimBackend::load(const ModelSpec& spec,
                                                        const ProgressFn& progress) {
  auto config = SimConfig::from_options(spec);
  if (!config.ok()) return config.status();
  if (config->fail_load) return model_failed_error("sim model '" + spec.name + "': injected load failure");
  // Sleep in steps so progress moves during a long load.
  constexpr int kSteps = 10;
  for (int i = 1; i <= kSteps; ++i) {
    std::this_thread::sleep_for(config->load_time / kSteps);
    if (progress) progress(0.9 * i / kSteps);
  }
  auto weights = std::make_shared<const SimWeights>(*config);
  if (progress) progress(1.0);
  return std::shared_ptr<const Weights>(std::move(weights));
}

Result<std::unique_ptr<Instance>> SimBackend::instantiate(std::shared_ptr<const Weights> weights,
                                                          const ModelSpec& spec) {
  auto sim = std::dynamic_pointer_cast<const SimWeights>(weights);
  if (!sim) return invalid_argument_error("sim model '" + spec.name + "': weights are not sim weights");
  const std::int64_t n = sim->creates.fetch_add(1) + 1;
  if (sim->config.fail_create < 0 || n <= sim->config.fail_create) {
    return model_failed_error("sim model '" + spec.name + "': injected creation failure " +
                              std::to_string(n));
  }
  return std::unique_ptr<Instance>(std::make_unique<SimInstance>(std::move(sim)));
}

}  // namespace modelpool
