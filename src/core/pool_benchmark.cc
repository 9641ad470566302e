// Microbenchmarks of the pool's own cost, with no work inside the lease.
//
//   build/bin/pool_benchmark
//
// BM_UncontendedAcquireRelease: one thread, an idle instance, nobody waiting:
// the fast path (goal: <= 150 ns per acquire + release).
// BM_Contended/threads:16: 16 threads over 4 instances, so most acquires
// queue and are handed off; reports time per acquire + release per thread.
#include <benchmark/benchmark.h>

#include "modelpool/pool.h"

namespace modelpool {
namespace {

class NoopInstance final : public Instance {
 public:
  std::size_t bytes() const override { return 0; }
  Status run(const Request&, Sink&, std::stop_token) override { return {}; }
};

std::unique_ptr<Pool> make_pool(std::size_t size) {
  PoolOptions o;
  o.min_instances = o.max_instances = size;
  o.max_queue = 1 << 20;
  auto pool = Pool::create(
      [] { return Result<std::unique_ptr<Instance>>(std::make_unique<NoopInstance>()); }, o);
  if (!pool.ok() || !(*pool)->wait_ready().ok()) std::abort();
  return std::move(*pool);
}

void BM_UncontendedAcquireRelease(benchmark::State& state) {
  auto pool = make_pool(1);
  for (auto _ : state) {
    Result<Lease> lease = pool->acquire();
    benchmark::DoNotOptimize(lease);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UncontendedAcquireRelease);

Pool* g_contended = nullptr;

void BM_Contended(benchmark::State& state) {
  if (state.thread_index() == 0) g_contended = make_pool(4).release();
  // The loop's start is a barrier across threads: setup is done by then.
  for (auto _ : state) {
    Result<Lease> lease = g_contended->acquire();
    benchmark::DoNotOptimize(lease);
  }
  state.SetItemsProcessed(state.iterations());
  // The loop's end is a barrier across threads: every lease is back.
  if (state.thread_index() == 0) delete g_contended;
}
BENCHMARK(BM_Contended)->Threads(16)->UseRealTime();

}  // namespace
}  // namespace modelpool

BENCHMARK_MAIN();
