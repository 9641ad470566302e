// The README's library example, compiled with the project so it stays true.
#include <cstdio>

#include "modelpool/pool.h"
#include "modelpool/registry.h"
#include "backends/sim/sim_backend.h"

using namespace std::chrono_literals;
using modelpool::Clock;

class PrintSink final : public modelpool::Sink {
 public:
  bool write(modelpool::Tensor t) override {
    std::printf("output %s: %.*s\n", t.name.c_str(), static_cast<int>(t.data.size()), t.data.data());
    return true;
  }
};

int main() {
  // 1. Load the weights once (a second get() of the same spec shares them).
  modelpool::ModelSpec spec;
  spec.name = "echo";
  spec.backend = "sim";
  spec.options = {{"weights_mb", "64"}, {"service_ms", "20"}};
  auto backend = std::make_shared<modelpool::SimBackend>();
  modelpool::BackendCatalog catalog;  // the engines this program knows
  catalog.add(backend);
  modelpool::Registry registry({}, catalog);
  auto weights = registry.get(spec);
  if (!weights.ok()) return std::fprintf(stderr, "%s\n", weights.status().to_string().c_str()), 1;

  // 2. A pool of 2..4 instances over those weights.
  modelpool::PoolOptions options;
  options.name = "echo";
  options.min_instances = 2;
  options.max_instances = 4;
  options.max_queue = 64;
  auto pool = modelpool::Pool::create(
      [&, shared = weights->shared()] { return backend->instantiate(shared, spec); }, options);
  if (!pool.ok()) return std::fprintf(stderr, "%s\n", pool.status().to_string().c_str()), 1;

  // 3. Lease an instance (waiting at most 500 ms), run, give it back.
  modelpool::Result<modelpool::Lease> lease = (*pool)->acquire(Clock::now() + 500ms);
  if (!lease.ok()) return std::fprintf(stderr, "%s\n", lease.status().to_string().c_str()), 1;
  modelpool::Request request;
  request.inputs = {{"text", "BYTES", {1}, modelpool::Buffer::copy("hello")}};
  PrintSink sink;
  modelpool::Status s = (*lease)->run(request, sink, {});
  if (s.code() == modelpool::StatusCode::kInternal) lease->mark_broken(s.message());
  return s.ok() ? 0 : 1;
}  // the lease goes back to the pool, then the pool drains and stops
