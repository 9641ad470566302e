// isolation = "process": a model whose instances live in supervised worker
// processes, for engines that keep global state, are not thread-safe, leak
// or crash.
//
// Each worker (worker_main.h) opens the model through the backend's own
// open() with one instance, so every backend works unchanged: an exclusive
// worker runs one request at a time, a batched one steps `slots` requests
// together (a persistent LLM process). The server side is a Pool of seats,
// one per request a worker can run at once (1, or `slots`), so waiting
// keeps the Pool's rules: FIFO, deadlines, cancellation, max_queue.
//
// Supervision (worker_client.h detects death at once, missed heartbeats and
// hung requests):
//   * a dead worker's seats are broken and replaced: a new worker starts at
//     once, or after a backoff doubling from 100 ms to restart_backoff_max
//     while workers keep dying before finishing any request;
//   * crash_loop_limit such deaths in a row: the model is crash-looping. It
//     turns unready (ModelStats::unready_reason, which the readiness probes
//     report) and refuses requests with kModelFailed naming the last death,
//     for restart_backoff_max; then it lets requests through again, and the
//     first one that succeeds makes it ready.
//
// Requests across a crash: a request whose worker dies before any text was
// streamed to the caller runs once more on another worker; otherwise, or
// when that one dies too, it fails with kModelFailed (503) naming the model
// and how the worker died. Requests still waiting for a seat are not
// touched by a crash: they wait for the replacement. Counted in
// WorkerStats: succeeded, retried, failed_by_crash.
//
// The weights: each worker loads the model itself. A backend that maps its
// file (llama.cpp's GGUF) shares the pages between workers through the page
// cache, so N workers cost one copy of the weights plus N instances; one
// that allocates its weights (the sim backend) pays them per worker.
#pragma once

#include <memory>

#include "modelpool/executor.h"
#include "modelpool/model.h"
#include "process/worker_client.h"

namespace modelpool::process {

class ProcessExecutor final : public Executor {
 public:
  // Workers run `launch`; by default this program's `worker` command.
  ProcessExecutor() : ProcessExecutor(WorkerLaunch{self_executable(), {"worker"}}) {}
  explicit ProcessExecutor(WorkerLaunch launch) : launch_(std::move(launch)) {}

  std::string_view name() const override { return "process"; }
  std::string_view summary() const override {
    return "each instance in a supervised worker process: crashes and hangs are contained and recovered";
  }
  Result<std::unique_ptr<Model>> open(Backend& backend, Registry& registry, const ModelSpec& spec,
                                      const ServeOptions& serve) override;
  // A worker's, times the workers: each runs one instance on its share of
  // the model's threads.
  ComputeThreads compute_threads(const Backend& backend, const ModelSpec& spec,
                                 const ServeOptions& serve) const override;

 private:
  const WorkerLaunch launch_;
};

}  // namespace modelpool::process
