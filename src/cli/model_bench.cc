// The pool-size benchmark on a configured model: the sim bench's question
// (all callers at once, one request each: how large should the pool be?)
// asked of a real engine, in thread or process isolation, through the same
// Model::infer a server calls. Waits are the model's own queue waits
// (InferStats), memory the PSS of the process and its workers.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <latch>
#include <thread>
#include <vector>

#include "cli/bench_command.h"
#include "cli/configured_model.h"
#include "cli/report.h"
#include "cli/tree_pss.h"
#include "modelpool/memory.h"
#include "modelpool/speech.h"
#include "server/config.h"
#include "server/model_manager.h"

namespace modelpool::cli {
namespace {

struct Row {
  std::size_t pool_size = 0;
  double ready_s = 0;           // loading the model and creating its instances
  double makespan_s = 0;
  double ideal_makespan_s = 0;  // ceil(callers / pool) x solo service time
  double wait_avg_s = 0, wait_max_s = 0;
  double wait_max_theory_s = 0;  // (ceil(callers / pool) - 1) x solo service time
  double run_avg_s = 0;         // an instance's work per request, under this load
  double latency_p50_s = 0, latency_p99_s = 0;
  double pss_peak_mb = 0;       // this process and its workers
  std::size_t errors = 0;
  std::string first_error;
};

Result<Request> request_for(const Model& model, const ModelBenchOptions& o) {
  if (has(model.capabilities(), Capability::kTranscribe)) {
    if (o.audio_path.empty()) return invalid_argument_error("the model transcribes: give --audio FILE");
    std::ifstream in(o.audio_path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) return invalid_argument_error("cannot read " + o.audio_path);
    return speech::transcription_request(Buffer::adopt(std::move(bytes)), {});
  }
  if (has(model.capabilities(), Capability::kSpeak)) {
    if (o.text.empty()) return invalid_argument_error("the model speaks: give --text TEXT");
    return speech::speech_request(o.text, {"", 1.0, "wav"});
  }
  // Any other model: a request without inputs (the sim model runs it).
  return Request{};
}

Result<Row> measure(const ModelBenchOptions& o, server::ModelConfig config, std::size_t pool_size,
                    double* solo_s) {
  config.min_instances = config.max_instances = pool_size;
  config.max_queue = std::max<std::size_t>(config.max_queue, o.callers);
  if (!o.isolation.empty()) config.isolation = o.isolation;
  Row row;
  row.pool_size = pool_size;
  server::ModelManager models({config});
  models.set_on_instance([pool_size](const std::string&, const PoolProgress& p) {
    std::fprintf(stderr, "  pool %zu: %zu/%zu instances ready\n", pool_size, p.live, p.target);
  });
  const Clock::time_point start = Clock::now();
  if (Status s = models.load(config.name); !s.ok()) return s;
  row.ready_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::shared_ptr<server::ServedModel> served = models.find(config.name);
  Model& model = served->model();
  Result<Request> request = request_for(model, o);
  if (!request.ok()) return request.status();

  // The service time of one request alone on a warm instance, once.
  if (*solo_s == 0) {
    std::vector<double> runs;
    for (int i = 0; i < 3; ++i) {
      CollectSink sink;
      Result<InferStats> r = model.infer(*request, sink, Clock::now() + std::chrono::minutes(10), {});
      if (!r.ok()) return r.status();
      runs.push_back(std::chrono::duration<double>(r->run).count());
    }
    *solo_s = percentile(runs, 0.5);
  }

  TreePss pss(model);
  std::vector<double> waits(o.callers), runs(o.callers), latencies(o.callers);
  std::vector<std::string> errors(o.callers);
  std::latch ready(static_cast<std::ptrdiff_t>(o.callers) + 1);
  std::latch go(1);
  Clock::time_point t0;
  {
    std::vector<std::jthread> callers;
    for (std::size_t i = 0; i < o.callers; ++i) {
      callers.emplace_back([&, i] {
        ready.count_down();
        go.wait();
        CollectSink sink;
        Result<InferStats> r = model.infer(*request, sink, Clock::now() + std::chrono::minutes(10), {});
        latencies[i] = std::chrono::duration<double>(Clock::now() - t0).count();
        if (!r.ok()) {
          errors[i] = r.status().to_string();
          return;
        }
        waits[i] = std::chrono::duration<double>(r->queue_wait).count();
        runs[i] = std::chrono::duration<double>(r->run).count();
      });
    }
    ready.arrive_and_wait();
    t0 = Clock::now();
    go.count_down();
  }
  const auto n = static_cast<double>(o.callers);
  const double rounds = std::ceil(n / static_cast<double>(pool_size));
  row.makespan_s = *std::max_element(latencies.begin(), latencies.end());
  row.ideal_makespan_s = rounds * *solo_s;
  row.wait_max_theory_s = (rounds - 1) * *solo_s;
  double wait_sum = 0, run_sum = 0;
  for (std::size_t i = 0; i < o.callers; ++i) {
    wait_sum += waits[i];
    run_sum += runs[i];
    row.wait_max_s = std::max(row.wait_max_s, waits[i]);
    if (!errors[i].empty()) {
      if (row.errors++ == 0) row.first_error = errors[i];
    }
  }
  row.wait_avg_s = wait_sum / n;
  row.run_avg_s = run_sum / n;
  row.latency_p50_s = percentile(latencies, 0.50);
  row.latency_p99_s = percentile(latencies, 0.99);
  row.pss_peak_mb = pss.peak_mb();
  return row;
}

void print_table(const ModelBenchOptions& o, const server::ModelConfig& config, double solo_s,
                 const std::vector<Row>& rows) {
  std::printf("\n%zu callers at once, one request each, model '%s' (%s, isolation %s); one request alone: "
              "%.3f s; %ld cores\n\n",
              o.callers, config.name.c_str(), config.backend.c_str(),
              o.isolation.empty() ? config.isolation.c_str() : o.isolation.c_str(), solo_s,
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-5s | %7s | %9s %9s %6s | %8s %8s %8s | %8s | %8s %8s | %9s\n", "pool", "ready", "makespan",
              "ideal", "ratio", "wait avg", "max", "theory", "run avg", "lat p50", "lat p99", "PSS peak");
  for (const Row& r : rows) {
    std::printf("%-5zu | %6.2fs | %8.2fs %8.2fs %6.2f | %7.2fs %7.2fs %7.2fs | %7.3fs | %7.2fs %7.2fs | %6.0f MB%s\n",
                r.pool_size, r.ready_s, r.makespan_s, r.ideal_makespan_s,
                r.ideal_makespan_s > 0 ? r.makespan_s / r.ideal_makespan_s : 0, r.wait_avg_s, r.wait_max_s,
                r.wait_max_theory_s, r.run_avg_s, r.latency_p50_s, r.latency_p99_s, r.pss_peak_mb,
                r.errors ? ("  ERRORS: " + std::to_string(r.errors) + " (" + r.first_error + ")").c_str() : "");
  }
  std::printf("\nideal = ceil(callers/pool) x one request alone (perfectly parallel hardware); ratio = makespan /"
              " ideal;\nrun avg = an instance's work per request under this load (it grows when instances share"
              " cores).\n");
}

Status write_json(const ModelBenchOptions& o, const server::ModelConfig& config, double solo_s,
                  const std::vector<Row>& rows) {
  namespace json = boost::json;
  json::array results;
  for (const Row& r : rows) {
    results.push_back(json::object{{"pool_size", r.pool_size},
                                   {"ready_s", r.ready_s},
                                   {"makespan_s", r.makespan_s},
                                   {"ideal_makespan_s", r.ideal_makespan_s},
                                   {"wait_avg_s", r.wait_avg_s},
                                   {"wait_max_s", r.wait_max_s},
                                   {"wait_max_theory_s", r.wait_max_theory_s},
                                   {"run_avg_s", r.run_avg_s},
                                   {"latency_p50_s", r.latency_p50_s},
                                   {"latency_p99_s", r.latency_p99_s},
                                   {"pss_peak_mb", r.pss_peak_mb},
                                   {"errors", r.errors}});
  }
  json::object doc{{"benchmark", "pool-size"},
                   {"model", config.name},
                   {"backend", config.backend},
                   {"isolation", o.isolation.empty() ? config.isolation : o.isolation},
                   {"callers", o.callers},
                   {"solo_service_s", solo_s},
                   {"machine", machine_json()},
                   {"results", std::move(results)}};
  return write_json_file(o.json_path, doc);
}

// memory-vs-makespan (measured, beside pool x the one-instance memory and
// ceil(n / pool) x one request alone) and latency against pool size.
std::vector<NamedChart> charts_of(const ModelBenchOptions& o, const server::ModelConfig& config,
                                  double solo_s, const std::vector<Row>& rows) {
  if (rows.empty()) return {};
  auto label = [](const Row& r) { return "pool " + std::to_string(r.pool_size); };
  // One instance's memory: the smallest pool measured, per instance.
  const Row& smallest = *std::min_element(
      rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.pool_size < b.pool_size; });
  const double one_mb = smallest.pss_peak_mb / static_cast<double>(smallest.pool_size);
  char model_mb[32], solo[32];
  std::snprintf(model_mb, sizeof model_mb, "%.0f MB", one_mb);
  std::snprintf(solo, sizeof solo, "%.3f s", solo_s);

  Chart memory;
  memory.title = "Pool size: memory against makespan, model '" + config.name + "' (" +
                 config.backend + "), " + std::to_string(o.callers) + " callers at once";
  memory.x_label = "makespan (s)";
  memory.y_label = "memory (MB, PSS peak with workers)";
  ChartSeries measured, theory;
  measured.title = "measured";
  theory.title = std::string("theory: ram = pool × model (") + model_mb + "), time = ceil(n / pool) × t (" +
                 solo + ")";
  theory.dashed = true;
  for (const Row& r : rows) {
    measured.x.push_back(r.makespan_s);
    measured.y.push_back(r.pss_peak_mb);
    measured.labels.push_back(label(r));
    theory.x.push_back(r.ideal_makespan_s);
    theory.y.push_back(static_cast<double>(r.pool_size) * one_mb);
    theory.labels.push_back(label(r));
  }
  memory.series = {std::move(measured), std::move(theory)};

  Chart latency;
  latency.title = "Pool size: latency and wait, model '" + config.name + "', " +
                  std::to_string(o.callers) + " callers at once";
  latency.x_label = "pool size (instances)";
  latency.y_label = "seconds";
  latency.x_tics_at_points = true;
  latency.log_x = std::any_of(rows.begin(), rows.end(), [&](const Row& r) {
    return r.pool_size >= 8 * smallest.pool_size;
  });
  const std::pair<const char*, double Row::*> measures[] = {{"latency p50", &Row::latency_p50_s},
                                                            {"latency p99", &Row::latency_p99_s},
                                                            {"wait avg", &Row::wait_avg_s},
                                                            {"wait max", &Row::wait_max_s},
                                                            {"theory: wait max", &Row::wait_max_theory_s}};
  for (const auto& [title, field] : measures) {
    ChartSeries s;
    s.title = title;
    s.dashed = std::string_view(title).starts_with("theory");
    for (const Row& r : rows) {
      s.x.push_back(static_cast<double>(r.pool_size));
      s.y.push_back(r.*field);
    }
    latency.series.push_back(std::move(s));
  }
  return {{"memory-vs-makespan", std::move(memory)}, {"latency", std::move(latency)}};
}

}  // namespace

int run_model_bench(const ModelBenchOptions& o) {
  Result<server::ModelConfig> found = configured_model(o.config_path, o.model);
  if (!found.ok()) {
    std::fprintf(stderr, "modelpool bench: %s\n", found.status().message().c_str());
    return 1;
  }
  const server::ModelConfig* config = &*found;
  double solo_s = 0;
  std::vector<Row> rows;
  for (std::size_t size : o.pool_sizes) {
    Result<Row> row = measure(o, *config, size, &solo_s);
    if (!row.ok()) {
      std::fprintf(stderr, "modelpool bench: pool size %zu: %s\n", size, row.status().to_string().c_str());
      return 1;
    }
    rows.push_back(*row);
  }
  print_table(o, *config, solo_s, rows);
  if (!o.json_path.empty()) {
    if (Status s = write_json(o, *config, solo_s, rows); !s.ok()) {
      std::fprintf(stderr, "modelpool bench: %s\n", s.to_string().c_str());
      return 1;
    }
    std::printf("results written to %s\n", o.json_path.c_str());
  }
  if (!o.charts_dir.empty() && !write_bench_charts(o.charts_dir, charts_of(o, *config, solo_s, rows))) {
    return 1;
  }
  for (const Row& r : rows) {
    if (r.errors) return 1;
  }
  return 0;
}

}  // namespace modelpool::cli
