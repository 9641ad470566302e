// The pool-size benchmark on the sim backend: all callers arrive at once,
// each makes one request; for each pool size we measure makespan, waits,
// latency and PSS, and print them beside what queueing arithmetic predicts.
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <latch>
#include <thread>
#include <vector>

#include "cli/bench_command.h"
#include "cli/report.h"
#include "modelpool/memory.h"
#include "modelpool/pool.h"
#include "modelpool/registry.h"

namespace modelpool::cli {
namespace {

struct Row {
  std::size_t pool_size = 0;
  bool share_weights = true;
  double makespan_s = 0;
  double ideal_makespan_s = 0;    // ceil(callers / pool) * service
  double cpu_floor_s = 0;         // callers * service / min(pool, cores): cpu mode only
  double throughput_rps = 0;
  double wait_avg_s = 0, wait_max_s = 0;
  double wait_avg_theory_s = 0, wait_max_theory_s = 0;
  double latency_p50_s = 0, latency_p99_s = 0;
  double pss_peak_mb = 0;
  double pss_model_mb = 0;        // weights + instances, as the sharing mode predicts
  std::size_t errors = 0;
};

class DiscardSink final : public Sink {
 public:
  bool write(Tensor) override { return true; }
};

Result<Row> measure(const SimBenchOptions& o, std::size_t pool_size, bool share) {
  const double service_s = o.service_ms / 1000;
  const auto cores = static_cast<std::size_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  Row row;
  row.pool_size = pool_size;
  row.share_weights = share;

  ModelSpec spec;
  spec.name = "bench";
  spec.backend = "sim";
  spec.options = {{"weights_mb", std::to_string(o.weights_mb)},
                  {"instance_mb", std::to_string(o.instance_mb)},
                  {"share_weights", share ? "true" : "false"},
                  {"service_ms", std::to_string(o.service_ms)},
                  {"service", o.service}};

  PssSampler pss(std::chrono::milliseconds(5));
  RegistryOptions registry_options;
  registry_options.unload_after_idle = std::chrono::milliseconds(0);  // free between sizes
  Registry registry(registry_options);
  auto backend = default_catalog().find(spec.backend);
  if (!backend.ok()) return backend.status();
  auto weights = registry.get(spec);
  if (!weights.ok()) return weights.status();

  PoolOptions po;
  po.name = "bench";
  po.min_instances = po.max_instances = pool_size;
  po.eager = true;
  po.max_queue = o.callers;
  po.service_threads = std::min<std::size_t>(pool_size, cores);
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (tty) {
    po.on_progress = [pool_size](const PoolProgress& p) {
      std::fprintf(stderr, "\r  pool %zu: %zu/%zu instances ready ", pool_size, p.live, p.target);
    };
  }
  std::shared_ptr<const Weights> shared = weights->shared();
  auto pool = Pool::create(
      [&, shared] { return (*backend)->instantiate(shared, spec); }, po);
  if (!pool.ok()) return pool.status();
  const Clock::time_point created = Clock::now();
  if (Status s = (*pool)->wait_ready(); !s.ok()) return s;
  std::fprintf(stderr, "%spool %zu (%s weights): %zu instances ready in %.1fs, running %zu callers%s",
               tty ? "\r  " : "", pool_size, share ? "shared" : "copied", pool_size,
               std::chrono::duration<double>(Clock::now() - created).count(), o.callers,
               tty ? "   " : "\n");

  std::vector<double> waits(o.callers), latencies(o.callers);
  std::vector<char> failed(o.callers, 0);
  std::latch ready(static_cast<std::ptrdiff_t>(o.callers) + 1);
  std::latch go(1);
  Clock::time_point t0;
  std::vector<std::jthread> callers;
  callers.reserve(o.callers);
  for (std::size_t i = 0; i < o.callers; ++i) {
    callers.emplace_back([&, i] {
      DiscardSink sink;
      Request request;
      ready.count_down();
      go.wait();
      auto lease = (*pool)->acquire();
      const Clock::time_point got = Clock::now();
      if (!lease.ok() || !(*lease)->run(request, sink, {}).ok()) failed[i] = 1;
      if (lease.ok()) lease->release();
      waits[i] = std::chrono::duration<double>(got - t0).count();
      latencies[i] = std::chrono::duration<double>(Clock::now() - t0).count();
    });
  }
  ready.arrive_and_wait();
  t0 = Clock::now();
  go.count_down();
  callers.clear();  // joins

  row.makespan_s = *std::max_element(latencies.begin(), latencies.end());
  row.errors = static_cast<std::size_t>(std::count(failed.begin(), failed.end(), 1));
  const auto n = static_cast<double>(o.callers);
  const auto p = static_cast<double>(pool_size);
  row.ideal_makespan_s = std::ceil(n / p) * service_s;
  if (o.service == "cpu") {
    row.cpu_floor_s = std::max(row.ideal_makespan_s,
                               n * service_s / static_cast<double>(std::min(pool_size, cores)));
  }
  row.throughput_rps = row.makespan_s > 0 ? n / row.makespan_s : 0;
  double wait_sum = 0, theory_sum = 0;
  for (std::size_t i = 0; i < o.callers; ++i) {
    wait_sum += waits[i];
    theory_sum += static_cast<double>(i / pool_size) * service_s;
  }
  row.wait_avg_s = wait_sum / n;
  row.wait_max_s = *std::max_element(waits.begin(), waits.end());
  row.wait_avg_theory_s = theory_sum / n;
  row.wait_max_theory_s = (std::ceil(n / p) - 1) * service_s;
  row.latency_p50_s = percentile(latencies, 0.50);
  row.latency_p99_s = percentile(latencies, 0.99);
  row.pss_peak_mb = static_cast<double>(pss.peak_bytes()) / (1024.0 * 1024.0);
  const auto w = static_cast<double>(o.weights_mb), inst = static_cast<double>(o.instance_mb);
  row.pss_model_mb = share ? w + p * inst : p * (w + inst);
  if (tty) std::fprintf(stderr, "\r%80s\r", "");
  return row;
}

void print_table(const SimBenchOptions& o, const std::vector<Row>& rows) {
  const bool cpu = o.service == "cpu";
  std::printf("\n%zu callers at once, one %.0f ms request each (%s), weights %zu MiB, "
              "instance %zu MiB, %ld cores\n\n",
              o.callers, o.service_ms, cpu ? "cpu-bound" : "sleep", o.weights_mb, o.instance_mb,
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-6s %-6s | %9s %9s %6s%s | %8s | %15s | %15s | %8s %8s | %9s %9s\n", "pool",
              "share", "makespan", "ideal", "ratio", cpu ? "  cpu-floor" : "", "req/s",
              "wait avg/theory", "wait max/theory", "lat p50", "lat p99", "PSS peak", "PSS model");
  for (const Row& r : rows) {
    char cpu_col[32] = "";
    if (cpu) std::snprintf(cpu_col, sizeof cpu_col, " %9.3fs", r.cpu_floor_s);
    std::printf("%-6zu %-6s | %8.3fs %8.3fs %6.3f%s | %8.1f | %6.3fs/%6.3fs | %6.3fs/%6.3fs | "
                "%7.3fs %7.3fs | %6.0f MB %6.0f MB%s\n",
                r.pool_size, r.share_weights ? "yes" : "no", r.makespan_s, r.ideal_makespan_s,
                r.ideal_makespan_s > 0 ? r.makespan_s / r.ideal_makespan_s : 0, cpu_col,
                r.throughput_rps, r.wait_avg_s, r.wait_avg_theory_s, r.wait_max_s,
                r.wait_max_theory_s, r.latency_p50_s, r.latency_p99_s, r.pss_peak_mb,
                r.pss_model_mb, r.errors ? "  ERRORS" : "");
  }
  std::printf("\nideal = ceil(callers/pool) x service; ratio = makespan / ideal. ");
  if (cpu) {
    std::printf("cpu-floor = callers x service / min(pool, cores):\na CPU-bound model gains "
                "nothing from more instances than cores.\n");
  } else {
    std::printf("PSS model = weights + pool x instance\n(shared) or pool x (weights + instance) "
                "(not shared); PSS peak also holds the process itself.\n");
  }
}

Status write_json(const SimBenchOptions& o, const std::vector<Row>& rows) {
  namespace json = boost::json;
  json::array results;
  for (const Row& r : rows) {
    json::object x;
    x["pool_size"] = r.pool_size;
    x["share_weights"] = r.share_weights;
    x["makespan_s"] = r.makespan_s;
    x["ideal_makespan_s"] = r.ideal_makespan_s;
    if (o.service == "cpu") x["cpu_floor_makespan_s"] = r.cpu_floor_s;
    x["throughput_rps"] = r.throughput_rps;
    x["wait_avg_s"] = r.wait_avg_s;
    x["wait_max_s"] = r.wait_max_s;
    x["wait_avg_theory_s"] = r.wait_avg_theory_s;
    x["wait_max_theory_s"] = r.wait_max_theory_s;
    x["latency_p50_s"] = r.latency_p50_s;
    x["latency_p99_s"] = r.latency_p99_s;
    x["pss_peak_mb"] = r.pss_peak_mb;
    x["pss_model_mb"] = r.pss_model_mb;
    x["errors"] = r.errors;
    results.push_back(std::move(x));
  }
  json::object doc;
  doc["benchmark"] = "pool-size";
  doc["backend"] = "sim";
  doc["config"] = {{"callers", o.callers},       {"service_ms", o.service_ms},
                   {"service", o.service},       {"weights_mb", o.weights_mb},
                   {"instance_mb", o.instance_mb}};
  doc["machine"] = machine_json();
  doc["results"] = std::move(results);
  return write_json_file(o.json_path, doc);
}

// One series over the rows of one sharing mode.
ChartSeries series_of(const std::vector<Row>& rows, bool share, std::string title,
                      double (*x)(const Row&), double (*y)(const Row&), bool labelled) {
  ChartSeries s;
  s.title = std::move(title);
  for (const Row& r : rows) {
    if (r.share_weights != share) continue;
    s.x.push_back(x(r));
    s.y.push_back(y(r));
    if (labelled) s.labels.push_back("pool " + std::to_string(r.pool_size));
  }
  return s;
}

// memory-vs-makespan (the RAM x time trade-off, measured beside theory) and
// latency against pool size.
std::vector<NamedChart> charts_of(const SimBenchOptions& o, const std::vector<Row>& rows) {
  const bool both = o.share_weights.size() > 1;
  auto mode = [both](bool share) -> std::string {
    return both ? (share ? ", shared weights" : ", copied weights") : "";
  };
  Chart memory;
  memory.title = "Pool size: memory against makespan (" + std::to_string(o.callers) +
                 " callers at once, " + std::to_string(o.weights_mb) + " MiB weights, " +
                 std::to_string(o.instance_mb) + " MiB per instance)";
  memory.x_label = "makespan (s)";
  memory.y_label = "memory (MB, PSS peak)";
  const auto makespan = [](const Row& r) { return r.makespan_s; };
  const auto ideal = [](const Row& r) { return r.ideal_makespan_s; };
  for (bool share : o.share_weights) {
    ChartSeries measured = series_of(rows, share, "measured" + mode(share), makespan,
                                     [](const Row& r) { return r.pss_peak_mb; }, true);
    memory.series.push_back(std::move(measured));
  }
  // The naive pool's cost whatever was measured: one copy of the model each.
  const double model_mb = static_cast<double>(o.weights_mb + o.instance_mb);
  ChartSeries naive;
  naive.title = "theory, a copy each: ram = pool × model (" + std::to_string(o.weights_mb + o.instance_mb) +
                " MB), time = ceil(n / pool) × t";
  naive.dashed = true;
  for (const Row& r : rows) {
    if (r.share_weights != o.share_weights.front()) continue;
    naive.x.push_back(r.ideal_makespan_s);
    naive.y.push_back(static_cast<double>(r.pool_size) * model_mb);
    naive.labels.push_back("pool " + std::to_string(r.pool_size));
  }
  memory.series.push_back(std::move(naive));
  if (o.share_weights.front()) {
    ChartSeries shared = series_of(rows, true,
                                   "theory, shared weights: ram = weights + pool × instance",
                                   ideal, [](const Row& r) { return r.pss_model_mb; }, false);
    shared.dashed = true;
    memory.series.push_back(std::move(shared));
  }

  Chart latency;
  latency.title = "Pool size: latency and wait (" + std::to_string(o.callers) +
                  " callers at once, " + std::to_string(static_cast<long>(o.service_ms)) +
                  " ms each, " + o.service + ")";
  latency.x_label = "pool size (instances)";
  latency.y_label = "seconds";
  const std::size_t smallest = *std::min_element(o.pool_sizes.begin(), o.pool_sizes.end());
  const std::size_t largest = *std::max_element(o.pool_sizes.begin(), o.pool_sizes.end());
  latency.log_x = largest >= 8 * smallest;
  latency.x_tics_at_points = true;
  const auto pool = [](const Row& r) { return static_cast<double>(r.pool_size); };
  for (bool share : o.share_weights) {
    latency.series.push_back(series_of(rows, share, "latency p50" + mode(share), pool,
                                       [](const Row& r) { return r.latency_p50_s; }, false));
    latency.series.push_back(series_of(rows, share, "latency p99" + mode(share), pool,
                                       [](const Row& r) { return r.latency_p99_s; }, false));
    latency.series.push_back(series_of(rows, share, "wait avg" + mode(share), pool,
                                       [](const Row& r) { return r.wait_avg_s; }, false));
  }
  ChartSeries wait_theory = series_of(rows, o.share_weights.front(), "theory: wait avg", pool,
                                      [](const Row& r) { return r.wait_avg_theory_s; }, false);
  wait_theory.dashed = true;
  latency.series.push_back(std::move(wait_theory));
  ChartSeries makespan_theory = series_of(rows, o.share_weights.front(),
                                          "theory: makespan = ceil(n / pool) × t", pool, ideal,
                                          false);
  makespan_theory.dashed = true;
  latency.series.push_back(std::move(makespan_theory));
  return {{"memory-vs-makespan", std::move(memory)}, {"latency", std::move(latency)}};
}

}  // namespace

int run_sim_bench(const SimBenchOptions& o) {
  std::vector<Row> rows;
  for (bool share : o.share_weights) {
    for (std::size_t size : o.pool_sizes) {
      auto row = measure(o, size, share);
      if (!row.ok()) {
        std::fprintf(stderr, "\nmodelpool bench: pool size %zu: %s\n", size,
                     row.status().to_string().c_str());
        return 1;
      }
      rows.push_back(*row);
    }
  }
  print_table(o, rows);
  if (!o.json_path.empty()) {
    if (Status s = write_json(o, rows); !s.ok()) {
      std::fprintf(stderr, "modelpool bench: %s\n", s.to_string().c_str());
      return 1;
    }
    std::printf("results written to %s\n", o.json_path.c_str());
  }
  if (!o.charts_dir.empty() && !write_bench_charts(o.charts_dir, charts_of(o, rows))) return 1;
  for (const Row& r : rows) {
    if (r.errors) return 1;
  }
  return 0;
}

}  // namespace modelpool::cli
