// Model: what a server serves, whatever engine runs it.
//
// A model declares its capabilities (backend.h: kInfer, kGenerate, and room
// for kTranscribe and kSpeak); a route asks for the one it needs and a model
// without it answers with kInvalidArgument naming the model and what it
// cannot do (missing_capability). Every engine comes through this seam: the
// server knows no engine by name.
//
//   Result<std::unique_ptr<Model>> m = backend->open(registry, spec, serve);
//   if (!has((*m)->capabilities(), Capability::kGenerate)) ...
//   Result<GenerationResult> r = (*m)->generate(request, deadline, stop);
//
// Thread safety: every method may be called from any number of threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/generation.h"
#include "modelpool/pool.h"
#include "modelpool/registry.h"
#include "modelpool/status.h"

namespace modelpool {

// How a model's instances are run: the serving settings of a config's
// [[model]] table, the same for every engine.
struct ServeOptions {
  enum class Mode {
    kExclusive,  // a Pool of instances, each serving one request at a time
    kBatched,    // continuous batching: one engine steps `slots` requests
                 // together (backends whose BackendInfo::batching is set)
  };
  Mode mode = Mode::kExclusive;
  std::size_t min_instances = 1;
  std::size_t max_instances = 1;
  std::size_t slots = 8;        // kBatched: requests stepped together
  std::size_t context = 2048;   // text models: tokens of state per context
  std::size_t threads = 0;      // compute threads for the whole model; 0: the cores
  std::size_t max_queue = 64;   // waiters beyond this get kQueueFull
  bool warmup = true;
  // Pools of instances between min_instances and max_instances scale with
  // their load (pool.h); a fixed pool or batched slots ignore it.
  PoolOptions::Autoscale autoscale;
  // The process's memory budget, shared by every model: instances (and
  // what an engine allocates when it opens: contexts, caches) reserve their
  // bytes before they exist; null: none. The registry reserves weights.
  std::shared_ptr<MemoryBudget> memory_budget;
  // Called when the budget first refuses a pool's growth (no lock held).
  std::function<void(const Status&)> on_growth_refused;
  // Called after each attempt to create an instance (warm-up included; in
  // process isolation, to start a worker), from a service thread with no
  // lock held: start-up shows progress per instance. May be empty.
  std::function<void(const PoolProgress&)> on_instance;
  // Where instances run: "thread" (in the server process) or "process"
  // (each in a supervised worker process; see process/process_model.h).
  std::string isolation = "thread";
  // isolation = "process": how workers are supervised.
  struct Process {
    // A worker that answers no heartbeat for 4 intervals is killed.
    std::chrono::milliseconds heartbeat_interval{250};
    // A request still running this long after its deadline, or after it
    // was cancelled, kills its worker (a hung engine).
    std::chrono::milliseconds hang_grace{2000};
    // This many workers in a row that die before finishing a request: the
    // model is crash-looping and turns unready.
    std::size_t crash_loop_limit = 5;
    // Restart delay after such deaths: doubling from 100 ms up to this.
    std::chrono::milliseconds restart_backoff_max{10000};
    // Shared memory between the server and each worker; half for inputs,
    // half for outputs. Only pages a payload touched are resident.
    std::size_t arena_bytes = std::size_t{256} << 20;
  } process;
};

// What a kInfer run cost, for metrics and the access log.
struct InferStats {
  Clock::duration queue_wait{};  // from the call until an instance took it
  Clock::duration run{};         // the instance's work
  // Set when the model generated text to answer (an LLM behind KServe
  // infer): its tokens and timings.
  std::optional<GenerationResult> generation;
};

// isolation = "process": the worker processes of a model and what
// happened to them, cumulative since the model was opened.
struct WorkerStats {
  std::vector<int> pids;  // workers running now
  std::uint64_t started = 0;   // processes started, first ones included
  std::uint64_t restarts = 0;  // started to replace one that died
  // Workers that died unasked, by cause: a signal's name ("SIGKILL") or
  // "exit N".
  std::map<std::string, std::uint64_t> crashes;
  std::uint64_t heartbeat_kills = 0;  // killed for missing heartbeats
  std::uint64_t hang_kills = 0;       // killed for overrunning a deadline or a cancel
  // Requests: answered by a worker; run again on another worker after
  // theirs died before answering; failed because their worker died.
  std::uint64_t succeeded = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed_by_crash = 0;
  std::string last_exit;  // how the last worker that died ended, with its pid
};

// A model's state now, for metrics, health and the dashboard: one
// consistent read, cheap enough for every scrape.
struct ModelStats {
  PoolSnapshot pool;             // instances (or batch slots) by state; queue
  std::size_t weights_bytes = 0;
  std::size_t instance_bytes = 0;  // one instance's (or slot's) own state
  std::optional<KvUsage> kv;     // text models: KV-cache cells
  std::vector<LlmEngineStats> engines;  // step engines: what their steps did
  std::optional<PrefixCacheStats> prefix_cache;  // text models with a prefix cache
  // How long a batching loop with work has not finished a step (zero when
  // idle or keeping up): the heartbeat liveness probes read.
  std::chrono::milliseconds stalled_for{0};
  // Why the model cannot serve now although it is loaded (a crash loop);
  // empty when it can. Readiness probes report it.
  std::string unready_reason;
  std::optional<WorkerStats> workers;  // isolation = "process"
};

class Model {
 public:
  virtual ~Model() = default;

  virtual Capabilities capabilities() const = 0;

  // kInfer: runs `request`, writing its outputs to `sink`. Waits in FIFO
  // order for an instance until `deadline` (kTimeout) or `stop` (kCancelled);
  // kQueueFull when max_queue callers already wait. Errors of the run as
  // Instance::run (an engine failure replaces the instance). Default:
  // kInvalidArgument.
  virtual Result<InferStats> infer(const Request& request, Sink& sink, Deadline deadline,
                                   std::stop_token stop);
  // kInfer, on the calling thread: runs `request` at once when an instance
  // is idle now and its run is quick (Instance::quick), so an I/O thread may
  // answer it without a hand-off. nullopt: call infer() from a thread that
  // may block. Default: nullopt.
  virtual std::optional<Result<InferStats>> infer_now(const Request& request, Sink& sink);

  // kGenerate: generates a completion. Waits as infer(); a request the
  // model cannot take (a prompt longer than its context, a bad field) is
  // kInvalidArgument before any waiting. Once generation started, `stop`
  // ends it within one step with finish reason kCancelled and the text so
  // far (a batching engine also ends it at `deadline`, with kTimeout).
  // Default: kInvalidArgument.
  virtual Result<GenerationResult> generate(const GenerationRequest& request, Deadline deadline,
                                            std::stop_token stop);
  // kGenerate: the number of tokens `text` encodes to.
  virtual Result<std::size_t> count_tokens(std::string_view text) const;
  // kGenerate: tokens one request may hold (prompt + completion); 0 when
  // the model does not generate. A route checks capabilities() first; the
  // defaults answer kInvalidArgument "the model does not support WHAT".
  virtual std::size_t max_sequence_tokens() const { return 0; }

  virtual ModelStats stats() const = 0;
  // One line on how the model runs, for the start-up log ("batched, 8 slots
  // x 2048 tokens, 38.9 MiB KV").
  virtual std::string describe() const = 0;

  // Stops admitting, wakes waiters with kShuttingDown, waits (bounded) for
  // work in flight.
  virtual Status shutdown(std::chrono::milliseconds timeout) = 0;
};

// The error a route answers when `model` lacks `c`: kInvalidArgument
// "model 'NAME' does not support CAPABILITY".
Status missing_capability_error(std::string_view model, Capability c);

// The default Backend::open: a Pool of `backend`'s instances over weights
// loaded once through `registry`, serving kInfer (and kGenerate when the
// backend declares it: each instance generates on its own).
Result<std::unique_ptr<Model>> open_pooled_model(Backend& backend, Registry& registry,
                                                 const ModelSpec& spec, const ServeOptions& serve);

}  // namespace modelpool
