#include "cli/advise/verify.h"

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include "cli/report.h"
#include "cli/tree_pss.h"
#include "server/model_manager.h"

namespace modelpool::cli::advise {

Result<Verified> verify(const server::ModelConfig& recommended, const Goal& goal, const WorkloadOptions& workload,
                        double base_pss_bytes, std::size_t runs, std::size_t requests) {
  Verified v;
  malloc_trim(0);
  server::ModelManager models({recommended});
  models.set_on_instance([](const std::string&, const PoolProgress& p) {
    std::fprintf(stderr, "  verify: %zu/%zu ready\n", p.live, p.target);
  });
  if (Status s = models.load(recommended.name); !s.ok()) return s;
  Model& model = models.find(recommended.name)->model();
  Result<Workload> work = Workload::for_model(model, workload);
  if (!work.ok()) return work.status();
  if (Outcome w = work->run(model); !w.error.empty()) return internal_error("warm-up request: " + w.error);
  TreePss pss(model, std::chrono::milliseconds(50));
  if (goal.arrivals.kind == Arrivals::Kind::kBurst) {
    v.runs = std::max<std::size_t>(1, runs);
    for (std::size_t r = 0; r < v.runs; ++r) {
      std::fprintf(stderr, "  verify: burst %zu/%zu of %zu callers\n", r + 1, v.runs, goal.concurrency);
      std::vector<Outcome> out = run_burst(model, *work, goal.concurrency);
      std::vector<double> latency;
      for (const Outcome& o : out) latency.push_back(o.latency_s);
      const double makespan = *std::max_element(latency.begin(), latency.end());
      v.p50_s += percentile(latency, 0.50) / static_cast<double>(v.runs);
      v.p99_s += percentile(latency, 0.99) / static_cast<double>(v.runs);
      v.throughput += static_cast<double>(out.size()) / makespan / static_cast<double>(v.runs);
      v.requests += out.size();
      auto [n, first] = errors_of(out);
      if (n && v.errors == 0) v.first_error = first;
      v.errors += n;
    }
  } else {
    v.runs = 1;
    std::fprintf(stderr, "  verify: %zu requests at %.2f/s (Poisson)\n", requests, goal.arrivals.rate);
    std::vector<Outcome> out = run_poisson(model, *work, goal.arrivals.rate, requests, 12345);
    // As the prediction: the first tenth warms the queue up.
    std::vector<double> latency;
    for (std::size_t i = requests / 10; i < out.size(); ++i) latency.push_back(out[i].latency_s);
    v.p50_s = percentile(latency, 0.50);
    v.p99_s = percentile(latency, 0.99);
    // Throughput: answers given while requests were arriving, per second of
    // that stretch (after it, the queue only drains).
    const double first = out.front().arrival_s, last = out.back().arrival_s;
    std::size_t answered = 0;
    for (const Outcome& o : out) {
      if (o.arrival_s + o.latency_s <= last) ++answered;
    }
    v.throughput = last > first ? static_cast<double>(answered) / (last - first) : 0;
    v.requests = out.size();
    std::tie(v.errors, v.first_error) = errors_of(out);
  }
  v.memory_bytes = std::max(0.0, static_cast<double>(pss.peak_bytes()) - base_pss_bytes);
  models.shutdown_all(std::chrono::seconds(10));
  return v;
}

// Two PSS readings of the same process differ by about this much without any
// change in the model (thread stacks, allocator caches): below it a relative
// error says nothing.
constexpr double kMemoryResolutionBytes = 4.0 * 1024 * 1024;

std::vector<Comparison> compare(const Option& p, const Verified& m, double tolerance) {
  std::vector<Comparison> rows = {
      {"throughput", p.predicted.throughput, m.throughput},
      {"p50", p.predicted.p50_s, m.p50_s},
      {"p99", p.predicted.p99_s, m.p99_s},
      {"memory", p.memory_bytes, m.memory_bytes},
  };
  for (Comparison& c : rows) {
    c.error = c.predicted > 0 ? c.measured / c.predicted - 1 : (c.measured > 0 ? INFINITY : 0);
    c.judged = c.metric != "p50";
    c.within = std::fabs(c.error) <= tolerance ||
               (c.metric == "memory" && std::fabs(c.measured - c.predicted) <= kMemoryResolutionBytes);
  }
  return rows;
}

}  // namespace modelpool::cli::advise
