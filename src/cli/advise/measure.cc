#include "cli/advise/measure.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>

#include "cli/advise/model_block.h"
#include "cli/tree_pss.h"
#include "modelpool/memory.h"
#include "server/model_manager.h"

namespace modelpool::cli::advise {
namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Memory the kernel could still give, bytes (0 when unknown).
double available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

// 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, ...: dense where curves bend.
std::size_t next_level(std::size_t k) {
  if (k < 4) return k + 1;
  std::size_t p = 1;
  while (p * 2 <= k) p *= 2;
  return k < p + p / 2 ? p + p / 2 : 2 * p;
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

struct LevelRun {
  Level level;
  std::vector<double> latencies;
  std::vector<double> instance_took_s;
  double open_s = 0;
  double weights_bytes = 0;
  double reported_instance_bytes = 0;
  std::string workload;
  bool generates = false;
};

Result<LevelRun> run_level(server::ModelConfig config, const Way& way, std::size_t k, const MeasureOptions& o,
                           double base_pss, bool warm_first) {
  LevelRun run;
  run.level.k = k;
  config = sized_config(config, way.mode, way.isolation, k);
  config.max_queue = std::max<std::size_t>(config.max_queue, 2 * k);
  const Clock::time_point start = Clock::now();
  std::mutex mu;
  {
    server::ModelManager models({config});
    models.set_on_instance([&](const std::string&, const PoolProgress& p) {
      std::lock_guard lock(mu);
      if (p.last_error.ok()) run.instance_took_s.push_back(std::chrono::duration<double>(p.took).count());
    });
    if (Status s = models.load(config.name); !s.ok()) return s;
    run.open_s = seconds_since(start);
    std::shared_ptr<server::ServedModel> served = models.find(config.name);
    Model& model = served->model();
    Result<Workload> work = Workload::for_model(model, o.workload);
    if (!work.ok()) return work.status();
    run.workload = work->describe();
    run.generates = work->generates();
    if (warm_first) {
      if (Outcome w = work->run(model); !w.error.empty()) return internal_error(w.error);
    }
    TreePss pss(model, std::chrono::milliseconds(50));
    // Enough requests for a steady mean: at least `requests_per_caller`
    // each, and at least ~0.3 s of work for quick models.
    std::size_t each = o.requests_per_caller;
    const ModelStats stats = model.stats();
    run.weights_bytes = static_cast<double>(stats.weights_bytes);
    run.reported_instance_bytes = static_cast<double>(stats.instance_bytes);
    std::vector<Outcome> outcomes = run_closed_loop(model, *work, k, each, o.threads);
    // A quick model: more requests, until the level has run long enough for
    // a steady mean (the first ones stay in it).
    auto elapsed = [&] {
      double sum = 0;
      for (const Outcome& out : outcomes) sum += out.latency_s;
      return sum / static_cast<double>(k);
    };
    for (int round = 0; round < 4 && elapsed() < o.min_level_s; ++round) {
      const double s = std::max(1e-6, elapsed() / static_cast<double>(outcomes.size() / k));
      const std::size_t more = std::min<std::size_t>(
          64, static_cast<std::size_t>(std::ceil((o.min_level_s - elapsed()) / s)) + 1);
      std::vector<Outcome> extra = run_closed_loop(model, *work, k, more, o.threads);
      outcomes.insert(outcomes.end(), extra.begin(), extra.end());
    }
    if (auto [n, first] = errors_of(outcomes); n) {
      return internal_error(std::to_string(n) + " of " + std::to_string(outcomes.size()) +
                            " requests failed, the first: " + first);
    }
    double sum = 0;
    for (const Outcome& out : outcomes) {
      sum += out.latency_s;
      run.latencies.push_back(out.latency_s);
    }
    run.level.service_s = sum / static_cast<double>(outcomes.size());
    const PoolSnapshot pool = model.stats().pool;
    run.level.live = way.mode == "batched" ? k : pool.idle + pool.busy + pool.checking;
    run.level.pss_bytes = std::max(0.0, static_cast<double>(pss.peak_bytes()) - base_pss);
    models.shutdown_all(std::chrono::seconds(10));
  }
  malloc_trim(0);
  run.level.wall_s = seconds_since(start);
  return run;
}

// Least squares: memory = fixed + unit x live.
void fit_memory(Way& way, double reported_unit) {
  const auto n = static_cast<double>(way.levels.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const Level& l : way.levels) {
    const auto x = static_cast<double>(l.live);
    sx += x;
    sy += l.pss_bytes;
    sxx += x * x;
    sxy += x * l.pss_bytes;
  }
  const double d = n * sxx - sx * sx;
  if (way.levels.size() >= 2 && d > 0) {
    way.unit_bytes = std::max(0.0, (n * sxy - sx * sy) / d);
    way.fixed_bytes = std::max(0.0, (sy - way.unit_bytes * sx) / n);
  } else {
    way.unit_bytes = reported_unit;
    way.fixed_bytes = std::max(0.0, sy / n - reported_unit * sx / n);
  }
}

struct Limits {
  std::size_t max_level;
  double budget_bytes;  // 0: none
  double deadline_s;    // measuring this way ends by then (seconds since the start of measuring)
};

void measure_way(const server::ModelConfig& config, Way& way, const MeasureOptions& o, const Limits& limits,
                 double base_pss, Clock::time_point t0) {
  double best_throughput = 0;
  int flat_levels = 0;
  double reported_unit = 0;
  std::vector<double> took;
  for (std::size_t k = 1; k <= limits.max_level;) {
    std::fprintf(stderr, "  %s: %zu at once ...", way.label().c_str(), k);
    std::fflush(stderr);
    Result<LevelRun> run = run_level(config, way, k, o, base_pss, k == 1);
    if (!run.ok()) {
      std::fprintf(stderr, " %s\n", run.status().message().c_str());
      if (way.levels.empty()) {
        way.refused = run.status().message();
      } else {
        way.stopped = "level " + std::to_string(k) + " failed: " + run.status().message();
      }
      return;
    }
    const Level& l = run->level;
    std::fprintf(stderr, " %.3f s a request, %.1f requests/s, %.0f MiB (%.1f s)\n", l.service_s,
                 static_cast<double>(k) / l.service_s, mib(l.pss_bytes), l.wall_s);
    if (k == 1) {
      way.load_s = run->open_s;
      way.weights_bytes = run->weights_bytes;
      way.workload = run->workload;
      way.generates = run->generates;
      double mean = 0;
      for (double v : run->latencies) mean += v;
      mean /= static_cast<double>(run->latencies.size());
      for (double v : run->latencies) way.relative_work.push_back(mean > 0 ? v / mean : 1);
    }
    reported_unit = run->reported_instance_bytes;
    took.insert(took.end(), run->instance_took_s.begin(), run->instance_took_s.end());
    way.levels.push_back(l);
    fit_memory(way, reported_unit);

    const double throughput = static_cast<double>(k) / l.service_s;
    if (throughput < best_throughput * 1.05) {
      ++flat_levels;
    } else {
      flat_levels = 0;
    }
    best_throughput = std::max(best_throughput, throughput);
    if (flat_levels >= 2) {
      way.stopped = "throughput stopped growing";
      break;
    }
    if (k >= limits.max_level) {
      way.stopped = limits.max_level < o.max_level
                        ? "measured up to " + std::to_string(k) + " to compare with threads"
                        : "reached the concurrency";
      break;
    }
    const std::size_t next = std::min(next_level(k), limits.max_level);
    const double next_memory = way.memory_bytes(next);
    const double machine = available_bytes() * 0.8 + l.pss_bytes;
    if (limits.budget_bytes > 0 && next_memory > limits.budget_bytes * 1.1) {
      way.stopped = "the memory budget";
      break;
    }
    if (machine > 0 && next_memory > machine) {
      way.stopped = "the machine's available memory";
      break;
    }
    // The next level's time: loading, creating its instances (two at a
    // time), and its requests at flat throughput (the slowest case).
    double per_instance = 0;
    for (double t : took) per_instance += t;
    per_instance = took.empty() ? 0 : per_instance / static_cast<double>(took.size());
    const double instances = way.mode == "batched" ? 1 : static_cast<double>(next);
    const double expected = way.load_s + per_instance * (instances - 1) / 2 +
                            static_cast<double>(o.requests_per_caller) * l.service_s *
                                static_cast<double>(next) / static_cast<double>(k);
    if (seconds_since(t0) + expected > limits.deadline_s) {
      way.stopped = "the time limit";
      break;
    }
    k = next;
  }
  double sum = 0;
  for (double t : took) sum += t;
  way.instance_s = took.empty() ? 0 : sum / static_cast<double>(took.size());
}

}  // namespace

ServiceCurve Way::curve() const {
  if (!scaled_points.empty()) return ServiceCurve(scaled_points);
  std::vector<std::pair<double, double>> points;
  for (const Level& l : levels) points.emplace_back(static_cast<double>(l.k), l.service_s);
  return ServiceCurve(points);
}

std::string Way::label() const { return isolation == "process" ? mode + ", process" : mode; }

Result<Measurement> measure(const server::ModelConfig& config, const MeasureOptions& o) {
  Measurement m;
  m.cores = static_cast<std::size_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  malloc_trim(0);
  if (Result<std::size_t> b = read_pss_bytes(0); b.ok()) m.base_pss_bytes = static_cast<double>(*b);
  const Clock::time_point t0 = Clock::now();

  Result<std::shared_ptr<Backend>> backend = default_catalog().find(config.backend);
  if (!backend.ok()) return backend.status();
  const bool batching = (*backend)->info().batching;
  const std::string default_mode = !config.mode.empty() ? config.mode : batching ? "batched" : "exclusive";
  std::vector<Way> ways;
  auto add = [&](std::string mode, std::string isolation) {
    if (!o.only_mode.empty() && mode != o.only_mode) return;
    if (!o.only_isolation.empty() && isolation != o.only_isolation) return;
    Way w;
    w.mode = std::move(mode);
    w.isolation = std::move(isolation);
    ways.push_back(std::move(w));
  };
  if (batching) add("batched", "thread");
  add("exclusive", "thread");
  if (default_catalog().find_executor("process").ok()) {
    add(o.only_mode.empty() ? default_mode : o.only_mode, "process");
  }
  if (ways.empty()) {
    return invalid_argument_error("backend '" + config.backend + "' cannot be served " +
                                  (o.only_mode.empty() ? "" : "in mode '" + o.only_mode + "' ") +
                                  (o.only_isolation.empty() ? "" : "with isolation '" + o.only_isolation + "'"));
  }

  for (std::size_t i = 0; i < ways.size(); ++i) {
    Way& way = ways[i];
    // The time left is shared by the ways still to measure: a thread way
    // weighs 4, process isolation 1 (it is measured at a few levels, to
    // compare) unless threads were refused.
    const Way* thread_way = nullptr;
    for (const Way& w : ways) {
      if (&w != &way && w.mode == way.mode && w.isolation == "thread" && w.usable()) thread_way = &w;
    }
    double weight_left = 0;
    for (std::size_t j = i; j < ways.size(); ++j) weight_left += ways[j].isolation == "process" ? 1 : 4;
    const double share = (way.isolation == "process" && thread_way != nullptr ? 1 : 4) / weight_left;
    const double left = o.time_limit_s - seconds_since(t0);
    Limits limits{o.max_level, o.memory_budget_bytes, seconds_since(t0) + left * share};
    if (way.isolation == "process" && thread_way != nullptr) {
      limits.max_level = std::min<std::size_t>(limits.max_level, std::max<std::size_t>(2, m.cores));
    }
    measure_way(config, way, o, limits, m.base_pss_bytes, t0);
    if (way.isolation == "process" && thread_way != nullptr && way.usable()) {
      // Measured where measured; beyond, the thread curve times what one
      // request alone costs more (or less) in a worker: isolation's cost is
      // per request, while past the cores both share the same machine.
      const ServiceCurve thread_curve = thread_way->curve();
      const double ratio = way.levels.front().service_s / thread_curve.seconds(1);
      way.isolation_ratio = ratio;
      for (const Level& l : way.levels) way.scaled_points.emplace_back(static_cast<double>(l.k), l.service_s);
      for (const auto& [k, s] : thread_curve.points()) {
        if (k > static_cast<double>(way.levels.back().k)) way.scaled_points.emplace_back(k, s * ratio);
      }
    }
  }
  m.ways = std::move(ways);
  bool any = false;
  std::string why;
  for (const Way& w : m.ways) {
    if (w.usable()) any = true;
    if (w.usable() && m.workload.empty()) {
      m.workload = w.workload;
      m.generates = w.generates;
    }
    if (!w.refused.empty()) why += (why.empty() ? "" : "; ") + w.label() + ": " + w.refused;
  }
  if (!any) return invalid_argument_error("model '" + config.name + "' cannot be served: " + why);
  if (m.generates) m.threads = config.threads ? config.threads : m.cores;
  m.wall_s = seconds_since(t0);
  return m;
}

}  // namespace modelpool::cli::advise
