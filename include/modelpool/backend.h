// The seam every engine plugs into.
//
// A backend turns a ModelSpec into two kinds of objects:
//
//   Weights   what a model is: immutable after load, shared by every instance
//             (threads read it concurrently without locks). Loaded once per
//             model by the Registry.
//   Instance  what running the model needs besides the weights: KV cache,
//             decoder state, scratch buffers. Mutable; used by one caller at a
//             time (the Pool guarantees it) unless it advertises batch slots.
//
// An instance is execution state, not a copy of the weights: instantiate()
// receives the shared Weights and must not duplicate them (a backend that
// cannot share, like the sim backend with share_weights=false, reports the
// copy in Instance::bytes()).
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
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "modelpool/buffer.h"
#include "modelpool/options.h"
#include "modelpool/status.h"

namespace modelpool {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

class Executor;
class Model;
class Registry;
struct GenerationRequest;
struct GenerationResult;
struct ServeOptions;

// What a model can do, as a bit set; routes ask a model for one (model.h).
enum class Capability : unsigned {
  kInfer = 1u << 0,       // tensors in, tensors out (KServe v2 infer)
  kGenerate = 1u << 1,    // text generation (OpenAI completions and chat)
  kTranscribe = 1u << 2,  // speech to text
  kSpeak = 1u << 3,       // text to speech
};
using Capabilities = unsigned;
constexpr Capabilities operator|(Capability a, Capability b) {
  return static_cast<unsigned>(a) | static_cast<unsigned>(b);
}
constexpr bool has(Capabilities set, Capability c) { return (set & static_cast<unsigned>(c)) != 0; }
// "infer", "generate", "transcribe", "speak".
std::string_view capability_name(Capability c);

// What a backend made of a generation request before it queued (tokens, a
// grammar), for its own instances: opaque to everything else.
class PreparedGeneration {
 public:
  virtual ~PreparedGeneration() = default;
};

// What to load: a backend name, a path (file or directory; may be empty for
// synthetic models) and backend options as strings (from the TOML config or
// the command line). Backends parse options themselves and refuse unknown
// keys with an error naming the key.
struct ModelSpec {
  std::string name;     // human name, e.g. "default"
  std::string backend;  // "sim", "llama", ...
  std::string path;
  std::map<std::string, std::string> options;

  // Identity in the Registry: two specs with the same key share weights.
  // Built from backend, path and options (not the name).
  std::string key() const;
};

// A named tensor, as KServe v2 describes one: datatype is one of its names
// ("FP32", "INT64", "BYTES", ...), shape is row-major, data holds the raw
// little-endian bytes (BYTES: each element is a 4-byte length and the bytes).
//
// data is a view with a shared owner (buffer.h), so a tensor travels without
// its bytes being copied: an input may view a slice of the HTTP body it came
// in, an output may share an input's bytes (the sim backend's echo does), and
// copying a Tensor copies a pointer. Nobody writes through it.
struct Tensor {
  std::string name;
  std::string datatype;
  std::vector<std::int64_t> shape;
  Buffer data;
};

// KServe BYTES elements: a 4-byte little-endian length, then the bytes.
std::string encode_bytes_element(std::string_view bytes);
// The first element of a BYTES tensor; kInvalidArgument naming the tensor
// when it is not BYTES or is truncated.
Result<std::string> first_bytes_element(const Tensor& tensor);

// Request parameters: named scalars that keep the type the caller gave them.
//
// KServe's "parameters" object maps names to JSON booleans, numbers or
// strings. Each keeps its type here, so no number is ever read through text:
// a JSON integer literal is an int64 (a uint64 above INT64_MAX), a number with
// a fraction or an exponent is a double, true/false a bool, a string a string.
//
// Backends read them through the typed accessors, which leave `*out`
// untouched when the key is absent and otherwise return kInvalidArgument
// naming the key when the value has the wrong type or is out of range:
//
//   read_int     an integer: an int64/uint64 in [min, max], or a double that
//                is a safe integer (exact_integer below) in [min, max], so
//                1e3 is 1000; 2.5, "50 tokens", "50" and true are errors,
//                never 2, 50 or 1.
//   read_number  any number (integers convert to double) in [min, max].
//   read_bool    true or false only.
//   read_string  a string only.
//
// A backend refuses the keys it does not know (refuse_unknown) instead of
// ignoring them, so a misspelt "max_token" is a 400, not a silent default.
class Parameters {
 public:
  using Value = std::variant<bool, std::int64_t, std::uint64_t, double, std::string>;

  // Adds or replaces `key`.
  void set(std::string key, Value value) { values_[std::move(key)] = std::move(value); }
  // The value under `key`, or null when absent.
  const Value* find(std::string_view key) const;
  // Removes `key` (absent: nothing happens).
  void erase(std::string_view key);
  bool empty() const { return values_.empty(); }
  std::size_t size() const { return values_.size(); }
  // Every parameter, in key order.
  const std::map<std::string, Value, std::less<>>& values() const { return values_; }

  Status read_int(std::string_view key, std::int64_t* out, std::int64_t min, std::int64_t max) const;
  Status read_number(std::string_view key, double* out, double min, double max) const;
  Status read_bool(std::string_view key, bool* out) const;
  Status read_string(std::string_view key, std::string* out) const;

  // kInvalidArgument naming every key not in `known`, and the known ones.
  Status refuse_unknown(std::initializer_list<std::string_view> known) const;

 private:
  std::map<std::string, Value, std::less<>> values_;
};

// The value as it would be written in JSON: 50, 2.5, true, "50 tokens".
std::string to_string(const Parameters::Value& value);

// `d` as an integer when it is a safe one: integral and |d| <= 2^53 - 1
// (JavaScript's Number.MAX_SAFE_INTEGER). From 2^53 on not every integer is a
// double, so the text the number came from may have had other digits
// (9007199254740993.0 parses as 2^53): such a number is refused rather than
// guessed. nullopt otherwise (fractions, non-finite values, |d| >= 2^53).
std::optional<std::int64_t> exact_integer(double d);

// One unit of work for Instance::run.
struct Request {
  std::string id;
  std::vector<Tensor> inputs;
  Parameters parameters;
};

// Where an instance writes results. May be called many times (streaming).
class Sink {
 public:
  virtual ~Sink() = default;
  // Returns false when the consumer is gone; the run should then stop early.
  virtual bool write(Tensor output) = 0;
};

// A Sink that keeps every output, for callers that answer once a run is done.
class CollectSink final : public Sink {
 public:
  bool write(Tensor output) override {
    outputs.push_back(std::move(output));
    return true;
  }
  std::vector<Tensor> outputs;
};

// Progress of a slow operation, from 0 to 1.
using ProgressFn = std::function<void(double fraction)>;

class Weights {
 public:
  virtual ~Weights() = default;
  // Bytes this model's weights occupy in memory (resident or mapped).
  virtual std::size_t bytes() const = 0;
};

class Instance {
 public:
  virtual ~Instance() = default;

  // Bytes of this instance's own state (not counting shared weights).
  virtual std::size_t bytes() const = 0;

  // Optional: bring the instance to steady state (first-run allocations,
  // caches). Called once by the Pool before the instance serves, when the
  // pool's warmup option is on. An error marks the instance broken.
  virtual Status warmup() { return {}; }

  // Runs one request, writing outputs to `sink`. Must return promptly (within
  // one step of its work) once `stop` is requested, with kCancelled.
  // Errors: kInvalidArgument for a bad request (the instance stays healthy);
  // kInternal for an engine failure (the Pool then treats the instance as
  // broken and replaces it). May also throw; a throw counts as kInternal.
  virtual Status run(const Request& request, Sink& sink, std::stop_token stop) = 0;

  // Cheap health probe, run by the Pool on idle instances. An error marks the
  // instance broken.
  virtual Status check() { return {}; }

  // True when run() returns within microseconds and never blocks (no sleep,
  // no I/O, no long computation): a server may then run it on its I/O thread
  // instead of handing it to a worker thread.
  virtual bool quick() const { return false; }

  // Optional: a short text that tells this instance apart where the pool
  // shows its instances (PoolSnapshot::instances, the dashboard's tiles),
  // such as "pid 1234" for a seat on a worker process. Empty by default.
  // Called once by the Pool, on a service thread with no lock held, after
  // the instance was created and warmed up; the Pool keeps the text for the
  // instance's life, so it should not change. Must be cheap and not block.
  virtual std::string label() const { return {}; }

  // The kGenerate capability (model.h): generates text for `request`.
  // `prepared` is what this backend made of the request before it queued
  // (Backend::prepare_generation; tokens, a grammar), or null, and then the
  // instance prepares it itself. `t0` is when the caller asked (timings in
  // the result count from it). Stops within one step of its work once `stop`
  // is requested, returning the text so far with finish reason kCancelled.
  // Errors as run(). Default: kInvalidArgument (the instance cannot).
  virtual Result<GenerationResult> generate(const GenerationRequest& request,
                                            std::unique_ptr<PreparedGeneration> prepared,
                                            Clock::time_point t0, std::stop_token stop);
};

// What a backend is, as data: the server, the config loader and the
// `backends` command read this instead of knowing any engine by name.
struct BackendInfo {
  std::string name;     // as a config's `backend = "..."` names it
  std::string summary;  // one line, for `modelpool backends`
  // What its models can do (model.h): a bit set of Capability values.
  Capabilities capabilities;
  // Whether a model needs `path` (a file or directory to load).
  bool needs_path = false;
  // Whether it supports mode = "batched" (ServeOptions::Mode::kBatched).
  bool batching = false;
  // Its options ([model.options] in a config), with types, ranges and
  // defaults: validated before anything loads (options.h).
  OptionSchema options;
};

// The compute threads a model keeps busy at its peak (every instance or
// slot running), and how many threads of one run work in lock-step: they
// meet at a barrier every operation, so while one waits for a core the
// others wait with it. What `serve` checks against the machine's cores.
struct ComputeThreads {
  std::size_t busy = 0;
  std::size_t lock_step = 1;  // 1: each run computes on one thread
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Constant for the backend's life.
  virtual const BackendInfo& info() const = 0;
  std::string_view name() const { return info().name; }

  // Rules between options and serving settings that the schema cannot say
  // (for example an option that applies to one mode only), checked after
  // the schema without loading anything. kInvalidArgument naming the key.
  virtual Status check(const ModelSpec& spec, const ServeOptions& serve) const;

  // The threads a model of `spec` served with `serve` computes on, at most.
  // Default: one per instance, max_instances at once.
  virtual ComputeThreads compute_threads(const ModelSpec& spec, const ServeOptions& serve) const;

  // Loads the weights described by `spec`. Called at most once per model key
  // at a time (the Registry's single-flight loading). May be slow; reports
  // progress through `progress` when given.
  virtual Result<std::shared_ptr<const Weights>> load(const ModelSpec& spec,
                                                      const ProgressFn& progress) = 0;

  // Creates one instance over already loaded `weights` (produced by this
  // backend's load() for the same spec). Thread-safe: the Pool calls it from
  // several threads at once.
  virtual Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights> weights,
                                                        const ModelSpec& spec) = 0;

  // Builds the model a server serves (model.h). The default is a Pool of
  // instantiate()d instances over weights shared through `registry`
  // (open_pooled_model); a backend overrides it to run its instances
  // differently (continuous batching).
  virtual Result<std::unique_ptr<Model>> open(Registry& registry, const ModelSpec& spec,
                                              const ServeOptions& serve);
};

// The backends and executors (executor.h) a program knows, by name: filled
// at the composition root (the CLI, a test's main) with one add() per engine
// and one add_executor() per executor, read by everything else. The "thread"
// executor is always there.
//
//   BackendCatalog catalog;
//   catalog.add(std::make_shared<SimBackend>());
//   Result<std::shared_ptr<Backend>> b = catalog.find("sim");
//
// Thread safety: add() before the catalog is shared; find() and list() from
// any thread after.
class BackendCatalog {
 public:
  BackendCatalog();

  // Registers `backend` under its info().name. REQUIRES: a new name.
  void add(std::shared_ptr<Backend> backend);
  // The backend named `name`, or kNotFound listing the known names.
  Result<std::shared_ptr<Backend>> find(std::string_view name) const;
  // Every backend, by name.
  std::vector<std::shared_ptr<Backend>> list() const;
  // "llama, sim": the known names, for messages.
  std::string names() const;

  // Registers `executor` under its name(). REQUIRES: a new name.
  void add_executor(std::shared_ptr<Executor> executor);
  // The executor named `name`, or kNotFound listing the known names.
  Result<std::shared_ptr<Executor>> find_executor(std::string_view name) const;
  // Every executor, by name.
  std::vector<std::shared_ptr<Executor>> executors() const;
  // "process, thread": the known executor names, for messages.
  std::string executor_names() const;

 private:
  std::map<std::string, std::shared_ptr<Backend>, std::less<>> backends_;
  std::map<std::string, std::shared_ptr<Executor>, std::less<>> executors_;
};

// The process's catalog, for code that has no other way to reach one (the
// config loader's checks). The composition root fills it at start.
BackendCatalog& default_catalog();

}  // namespace modelpool
