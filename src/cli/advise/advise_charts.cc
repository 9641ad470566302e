#include "cli/advise/advise_charts.h"

#include <cmath>

#include "cli/chart.h"

namespace modelpool::cli::advise {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// Labels on a few sizes only (1, 2, 4, 8, ... and the chosen one), so they
// stay readable.
bool labelled(std::size_t size, std::size_t chosen) {
  return size == chosen || (size & (size - 1)) == 0;
}

ChartSeries series(std::string title) {
  ChartSeries s;
  s.title = std::move(title);
  return s;
}

Status add_files(Result<std::vector<std::string>> r, std::vector<std::string>& files) {
  if (!r.ok()) return r.status();
  files.insert(files.end(), r->begin(), r->end());
  return Status();
}

}  // namespace

Result<std::vector<std::string>> write_advice_charts(const Measurement& m, const Advice& a, const Goal& g,
                                                     const std::optional<Verified>& verified,
                                                     const std::string& dir) {
  std::vector<std::string> files;
  const Way& way = *a.chosen.way;
  const bool burst = g.arrivals.kind == Arrivals::Kind::kBurst;
  const std::string unit = way.mode == "batched" ? "slots" : "instances";

  {  // Memory against time.
    Chart c;
    c.title = "memory against time, " + std::string(burst ? std::to_string(g.concurrency) + " callers at once"
                                                           : "Poisson arrivals") +
              " (" + way.label() + ")";
    c.x_label = burst ? "time until every caller is answered (s)" : "p99 latency (s)";
    c.y_label = "memory (MiB)";
    ChartSeries predicted = series("predicted (queueing model on the measured curve)");
    ChartSeries theory = series("naive theory: ram = pool x model, time = ceil(n/pool) x t");
    theory.dashed = true;
    const double t1 = way.curve().seconds(1);
    const double model_bytes = way.memory_bytes(1);
    for (const Option& o : a.options) {
      if (o.way != &way || !std::isfinite(o.predicted.p99_s)) continue;
      predicted.x.push_back(burst ? o.predicted.makespan_s : o.predicted.p99_s);
      predicted.y.push_back(o.memory_bytes / kMiB);
      predicted.labels.push_back(labelled(o.size, a.chosen.size) ? std::to_string(o.size) : "");
      if (burst) {
        theory.x.push_back(std::ceil(static_cast<double>(g.concurrency) / static_cast<double>(o.size)) * t1);
        theory.y.push_back(static_cast<double>(o.size) * model_bytes / kMiB);
        theory.labels.push_back(labelled(o.size, a.chosen.size) ? std::to_string(o.size) : "");
      }
    }
    c.series.push_back(std::move(predicted));
    if (burst) c.series.push_back(std::move(theory));
    ChartSeries chosen = series("recommended: " + std::to_string(a.chosen.size) + " " + unit);
    chosen.style = ChartSeries::Style::kPoints;
    chosen.x = {burst ? a.chosen.predicted.makespan_s : a.chosen.predicted.p99_s};
    chosen.y = {a.chosen.memory_bytes / kMiB};
    c.series.push_back(std::move(chosen));
    if (verified) {
      ChartSeries v = series("measured (--verify)");
      v.style = ChartSeries::Style::kPoints;
      v.x = {burst ? static_cast<double>(g.concurrency) / verified->throughput : verified->p99_s};
      v.y = {verified->memory_bytes / kMiB};
      c.series.push_back(std::move(v));
    }
    c.log_x = true;
    if (Status s = add_files(write_chart(c, dir + "/advise-tradeoff"), files); !s.ok()) return s;
  }
  {  // The scaling curve.
    Chart c;
    c.title = "throughput against requests at once (" + std::to_string(m.cores) + " cores)";
    c.x_label = "requests at once";
    c.y_label = "requests/s";
    for (const Way& w : m.ways) {
      if (!w.usable()) continue;
      ChartSeries s = series("measured: " + w.label());
      for (const Level& l : w.levels) {
        s.x.push_back(static_cast<double>(l.k));
        s.y.push_back(static_cast<double>(l.k) / l.service_s);
      }
      c.series.push_back(std::move(s));
    }
    ChartSeries model = series("the model's curve: " + way.label());
    ChartSeries ideal = series("perfect scaling");
    model.dashed = ideal.dashed = true;
    model.style = ideal.style = ChartSeries::Style::kLines;
    const ServiceCurve curve = way.curve();
    for (std::size_t k = 1; k <= std::max<std::size_t>(1, g.concurrency); ++k) {
      model.x.push_back(static_cast<double>(k));
      model.y.push_back(curve.throughput(static_cast<double>(k)));
      ideal.x.push_back(static_cast<double>(k));
      ideal.y.push_back(static_cast<double>(k) / curve.seconds(1));
    }
    c.series.push_back(std::move(model));
    c.series.push_back(std::move(ideal));
    if (Status s = add_files(write_chart(c, dir + "/advise-scaling"), files); !s.ok()) return s;
  }
  {  // Latency against pool size.
    Chart c;
    c.title = "predicted latency against pool size (" + way.label() + ")";
    c.x_label = unit;
    c.y_label = "latency (s)";
    ChartSeries p50 = series("p50"), p99 = series("p99");
    for (const Option& o : a.options) {
      if (o.way != &way) continue;
      p50.x.push_back(static_cast<double>(o.size));
      p50.y.push_back(o.predicted.p50_s);
      p99.x.push_back(static_cast<double>(o.size));
      p99.y.push_back(o.predicted.p99_s);
    }
    c.series.push_back(std::move(p50));
    c.series.push_back(std::move(p99));
    if (verified) {
      ChartSeries v = series("measured p50, p99 (--verify)");
      v.style = ChartSeries::Style::kPoints;
      v.x = {static_cast<double>(a.chosen.size), static_cast<double>(a.chosen.size)};
      v.y = {verified->p50_s, verified->p99_s};
      c.series.push_back(std::move(v));
    }
    c.log_y = true;
    if (Status s = add_files(write_chart(c, dir + "/advise-latency"), files); !s.ok()) return s;
  }
  return files;
}

}  // namespace modelpool::cli::advise
