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

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelpool/status.h"

namespace modelpool {

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
struct Tensor {
  std::string name;
  std::string datatype;
  std::vector<std::int64_t> shape;
  std::string data;
};

// KServe BYTES elements: a 4-byte little-endian length, then the bytes.
std::string encode_bytes_element(std::string_view bytes);
// The first element of a BYTES tensor; kInvalidArgument naming the tensor
// when it is not BYTES or is truncated.
Result<std::string> first_bytes_element(const Tensor& tensor);

// One unit of work for Instance::run.
struct Request {
  std::string id;
  std::vector<Tensor> inputs;
  std::map<std::string, std::string> parameters;
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
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;

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
};

// The backend registered under `name` ("sim", ...), or kNotFound listing the
// known names.
Result<std::shared_ptr<Backend>> make_backend(std::string_view name);

}  // namespace modelpool
