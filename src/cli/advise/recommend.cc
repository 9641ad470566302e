#include "cli/advise/recommend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace modelpool::cli::advise {
namespace {

std::string fmt(const char* format, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, a);
  return buf;
}

std::string secs(double s) {
  if (!std::isfinite(s)) return "unbounded";
  return s < 1 ? fmt("%.0f ms", s * 1000) : fmt("%.2f s", s);
}

std::string unit_name(const Way& w, std::size_t n) {
  const char* unit = w.mode == "batched" ? "slot" : w.isolation == "process" ? "worker" : "instance";
  // Batched in a worker: the slots are the unit, the worker is one.
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

bool feasible(const Option& o) { return o.within_budget && o.predicted.stable; }

// The best size of one way (see the rule in recommend.h); null when no size
// fits the budget.
const Option* best_of(const std::vector<Option>& options, const Way* way, const Goal& g) {
  const Option* best = nullptr;
  double best_p99 = std::numeric_limits<double>::infinity();
  for (const Option& o : options) {
    if (o.way == way && feasible(o)) best_p99 = std::min(best_p99, o.predicted.p99_s);
  }
  for (const Option& o : options) {
    if (o.way != way || !feasible(o)) continue;
    if (g.slo_p99_s > 0) {
      const bool meets = o.meets_slo, best_meets = best != nullptr && best->meets_slo;
      if (best == nullptr || (meets && !best_meets) ||
          (meets && best_meets && o.memory_bytes < best->memory_bytes) ||
          (!meets && !best_meets && o.predicted.p99_s < best->predicted.p99_s)) {
        best = &o;
      }
    } else if (o.predicted.p99_s <= best_p99 * 1.05) {
      return &o;  // sizes ascend: the smallest within 5% of the best
    }
  }
  return best;
}

void describe_scaling(const Measurement& m, const Way& w, std::vector<std::string>& out) {
  if (w.levels.empty()) return;
  const Level* peak = &w.levels.front();
  for (const Level& l : w.levels) {
    if (static_cast<double>(l.k) / l.service_s > static_cast<double>(peak->k) / peak->service_s) peak = &l;
  }
  const double x_peak = static_cast<double>(peak->k) / peak->service_s;
  const Level& last = w.levels.back();
  char buf[400];
  if (w.stopped == "throughput stopped growing") {
    const std::string after =
        &last == peak ? "" : "; " + fmt("%.2f", static_cast<double>(last.k) / last.service_s) + " at " +
                                 std::to_string(last.k);
    std::snprintf(buf, sizeof buf, "throughput stops growing at %zu at once (%.2f requests/s%s)%s", peak->k,
                  x_peak, after.c_str(),
                  peak->k <= 2 * m.cores ? (": this machine has " + std::to_string(m.cores) + " cores").c_str() : "");
  } else if (w.stopped == "reached the concurrency") {
    const double gain = static_cast<double>(last.k) / last.service_s * w.levels.front().service_s;
    std::snprintf(buf, sizeof buf, "throughput still grows at %zu at once (%.2f requests/s, %.1fx one alone)%s",
                  last.k, static_cast<double>(last.k) / last.service_s, gain,
                  w.mode == "batched" ? ": sequences decoded together share each step's cost"
                  : gain >= 0.8 * static_cast<double>(last.k)
                      ? ": a request mostly waits rather than computes, so instances overlap"
                      : "");
  } else if (!w.scaled_points.empty()) {
    std::snprintf(buf, sizeof buf,
                  "measured up to %zu at once (%.2f requests/s), to compare with threads; beyond, the thread "
                  "curve times one request's cost in a worker (x%.2f)",
                  last.k, static_cast<double>(last.k) / last.service_s, w.isolation_ratio);
  } else {
    std::snprintf(buf, sizeof buf,
                  "measured up to %zu at once (stopped by %s; %.2f requests/s there); past it the model assumes "
                  "throughput stays flat",
                  last.k, w.stopped.c_str(), static_cast<double>(last.k) / last.service_s);
  }
  out.push_back(w.label() + ": " + buf);
}

}  // namespace

std::string format_bytes(double bytes) {
  const double mb = bytes / (1024.0 * 1024.0);
  return mb >= 1024 ? fmt("%.2f GiB", mb / 1024) : fmt("%.0f MiB", mb);
}

Advice recommend(const Measurement& m, const Goal& g) {
  Advice advice;
  const std::size_t max_size = std::max<std::size_t>(1, g.concurrency);
  std::size_t seed = 1;
  for (const Way& w : m.ways) {
    if (!w.usable()) continue;
    const ServiceCurve curve = w.curve();
    for (std::size_t c = 1; c <= max_size; ++c) {
      Option o;
      o.way = &w;
      o.size = c;
      o.predicted = predict(curve, c, g.arrivals, w.relative_work, static_cast<std::uint32_t>(seed));
      o.memory_bytes = w.memory_bytes(c);
      o.within_budget = g.memory_budget_bytes <= 0 || o.memory_bytes <= g.memory_budget_bytes;
      o.meets_slo = o.predicted.stable && (g.slo_p99_s <= 0 || o.predicted.p99_s <= g.slo_p99_s);
      advice.options.push_back(o);
    }
  }

  std::vector<const Option*> bests;
  for (const Way& w : m.ways) {
    if (!w.usable()) continue;
    if (const Option* b = best_of(advice.options, &w, g)) bests.push_back(b);
  }
  std::vector<std::string>& why = advice.reasons;
  if (bests.empty()) {
    // Nothing fits the budget: the smallest configuration, said plainly.
    const Option* smallest = nullptr;
    for (const Option& o : advice.options) {
      if (o.size == 1 && (smallest == nullptr || o.memory_bytes < smallest->memory_bytes)) smallest = &o;
    }
    advice.chosen = *smallest;
    why.push_back("no configuration fits the memory budget of " + format_bytes(g.memory_budget_bytes) +
                  ": the smallest, " + unit_name(*smallest->way, 1) + " (" + smallest->way->label() + "), needs " +
                  format_bytes(smallest->memory_bytes));
  } else {
    const Option* chosen = bests.front();
    for (const Option* b : bests) {
      const bool thread_over_process = b->way->isolation == "thread" && chosen->way->isolation == "process";
      if (g.slo_p99_s > 0 && b->meets_slo != chosen->meets_slo) {
        if (b->meets_slo) chosen = b;
      } else if (g.slo_p99_s > 0 && b->meets_slo) {
        if (b->memory_bytes < chosen->memory_bytes) chosen = b;
      } else if (b->predicted.p99_s < chosen->predicted.p99_s * 0.95 ||
                 (b->predicted.p99_s <= chosen->predicted.p99_s * 1.05 &&
                  (thread_over_process ||
                   (b->way->isolation == chosen->way->isolation && b->memory_bytes < chosen->memory_bytes)))) {
        chosen = b;
      }
    }
    advice.chosen = *chosen;
  }
  const Option& c = advice.chosen;
  const Way& w = *c.way;

  describe_scaling(m, w, why);
  // The size.
  const Option* largest = nullptr;
  std::size_t budget_allows = 0;
  for (const Option& o : advice.options) {
    if (o.way != &w) continue;
    largest = &o;
    if (o.within_budget) budget_allows = o.size;
  }
  if (g.slo_p99_s > 0) {
    if (c.meets_slo) {
      std::string s = unit_name(w, c.size) + " meet the p99 goal of " + secs(g.slo_p99_s) + " (predicted " +
                      secs(c.predicted.p99_s) + ")";
      if (g.memory_budget_bytes > 0) {
        s = "the budget of " + format_bytes(g.memory_budget_bytes) + " allows " + unit_name(w, budget_allows) +
            "; " + s;
      }
      why.push_back(s);
    } else {
      why.push_back("no size " + std::string(g.memory_budget_bytes > 0 ? "within the budget " : "") +
                    "meets the p99 goal of " + secs(g.slo_p99_s) + ": the best is " + secs(c.predicted.p99_s) +
                    " with " + unit_name(w, c.size));
    }
  } else if (largest != nullptr && c.size < largest->size) {
    // Compared with the largest size the budget allows, which is the real
    // alternative; the budget is named when it is what stops growth.
    const Option* limit = largest;
    for (const Option& o : advice.options) {
      if (o.way == &w && o.size == budget_allows) limit = &o;
    }
    const bool budget_binds = g.memory_budget_bytes > 0 && budget_allows < largest->size;
    if (budget_binds) {
      why.push_back("the budget of " + format_bytes(g.memory_budget_bytes) + " allows " +
                    unit_name(w, budget_allows) + " (" + format_bytes(limit->memory_bytes) + "); " +
                    std::to_string(largest->size) + " would need " + format_bytes(largest->memory_bytes) +
                    " for p99 " + secs(largest->predicted.p99_s));
    }
    if (c.size < limit->size) {
      why.push_back("more than " + unit_name(w, c.size) + " do not help: p99 " + secs(c.predicted.p99_s) +
                    " at " + std::to_string(c.size) + ", " + secs(limit->predicted.p99_s) + " at " +
                    std::to_string(limit->size) + ", for " +
                    format_bytes(limit->memory_bytes - c.memory_bytes) + " more");
    }
  } else if (largest != nullptr) {
    why.push_back("every caller gets its own " + unit_name(w, 1).substr(2) + ": p99 keeps falling up to " +
                  std::to_string(c.size));
  }
  if (g.arrivals.kind == Arrivals::Kind::kPoisson && !c.predicted.stable) {
    why.push_back(fmt("the rate of %.2f requests/s is more than any size within the limits sustains", g.arrivals.rate));
  }
  if (m.threads) {
    why.push_back("threads: " + std::to_string(m.threads) +
                  (m.threads == m.cores ? " (every core, shared by the model's contexts), as measured" : ", as measured"));
  }
  // Memory.
  why.push_back("memory: " + format_bytes(w.fixed_bytes) + " shared (weights " + format_bytes(w.weights_bytes) +
                ") + " + format_bytes(w.unit_bytes) + " per " + unit_name(w, 1).substr(2) + " = " +
                format_bytes(c.memory_bytes));
  // The other ways.
  for (const Option* b : bests) {
    if (b->way == &w) continue;
    std::string s = b->way->label() + " would need " + unit_name(*b->way, b->size) + ": p99 " +
                    secs(b->predicted.p99_s) + ", " + format_bytes(b->memory_bytes);
    if (b->way->isolation == "process" && w.isolation == "thread" && b->way->mode == w.mode &&
        !b->way->levels.empty()) {
      const Level& pl = b->way->levels.front();
      const double ratio = pl.service_s / w.curve().seconds(static_cast<double>(pl.k));
      s += fmt(" (process isolation: %+.0f%% time per request", (ratio - 1) * 100) + ", " +
           format_bytes(b->way->unit_bytes) + " per " + unit_name(*b->way, 1).substr(2) +
           "; use it to contain crashes)";
    }
    why.push_back(s);
  }
  for (const Way& other : m.ways) {
    if (!other.refused.empty()) why.push_back(other.label() + " cannot serve this model: " + other.refused);
  }
  // The rule of thumb, for comparison.
  const std::size_t thumb = (g.concurrency + 6) / 7;
  for (const Option& o : advice.options) {
    if (o.way == &w && o.size == std::min(thumb, max_size)) advice.rule_of_thumb = o;
  }
  if (advice.rule_of_thumb.way != nullptr) {
    const Option& t = advice.rule_of_thumb;
    const std::string rule = "the rule of thumb ceil(" + std::to_string(g.concurrency) + "/7) = " + std::to_string(thumb);
    if (t.predicted.stable) {
      why.push_back(rule + " predicts p99 " + secs(t.predicted.p99_s) + " and " + format_bytes(t.memory_bytes));
    } else {
      why.push_back(rule + fmt(" cannot keep up: it serves at most %.2f requests/s", t.predicted.throughput));
    }
  }
  return advice;
}

}  // namespace modelpool::cli::advise
