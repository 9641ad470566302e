// Executor: where a model's instances run, the other half of the seam.
//
// A backend says what a model is (backend.h); an executor says where its
// work happens. The config's `isolation` names one:
//
//   "thread"   in the server process: Backend::open (a Pool of instances, or
//              the backend's own batching loop). Always registered.
//   "process"  each instance in a supervised worker process (src/process/),
//              registered by the composition root.
//
//   Result<std::shared_ptr<Executor>> e = catalog.find_executor(serve.isolation);
//   Result<std::unique_ptr<Model>> m = (*e)->open(*backend, registry, spec, serve);
//
// An executor knows no engine by name: it reaches one only through Backend.
#pragma once

#include <memory>
#include <string_view>

#include "modelpool/backend.h"
#include "modelpool/status.h"

namespace modelpool {

class Executor {
 public:
  virtual ~Executor() = default;

  // As a config's `isolation = "..."` names it.
  virtual std::string_view name() const = 0;
  // One line, for `modelpool backends`.
  virtual std::string_view summary() const = 0;

  // Builds the model `spec` describes, run the way this executor runs work.
  // `registry` shares weights within this process (an executor that loads
  // them elsewhere may ignore it). Errors as Backend::open.
  virtual Result<std::unique_ptr<Model>> open(Backend& backend, Registry& registry, const ModelSpec& spec,
                                              const ServeOptions& serve) = 0;

  // The threads a model of `backend` computes on when this executor runs it:
  // Backend::compute_threads of the settings its engines get. Default: the
  // backend's for `serve` itself.
  virtual ComputeThreads compute_threads(const Backend& backend, const ModelSpec& spec,
                                         const ServeOptions& serve) const;
};

// The in-process executor: Backend::open.
class ThreadExecutor final : public Executor {
 public:
  std::string_view name() const override { return "thread"; }
  std::string_view summary() const override { return "instances run on threads of the server process"; }
  Result<std::unique_ptr<Model>> open(Backend& backend, Registry& registry, const ModelSpec& spec,
                                      const ServeOptions& serve) override;
};

}  // namespace modelpool
