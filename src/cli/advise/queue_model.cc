#include "cli/advise/queue_model.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <queue>
#include <random>

namespace modelpool::cli::advise {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double nearest_rank(std::vector<double>& sorted_values, double q) {
  if (sorted_values.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted_values.size())));
  return sorted_values[std::min(sorted_values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// One run of the pool: requests arriving at `arrival` (ascending) with
// `work` (1 = a mean request); returns each request's latency. Every running
// request progresses at the same rate, 1/s(b) work per second while b run,
// so one accumulator of work done (`done`) serves all of them: a request
// started when done = d finishes when done = d + its work.
std::vector<double> run(const ServiceCurve& curve, std::size_t servers, const std::vector<double>& arrival,
                        const std::vector<double>& work) {
  const std::size_t n = arrival.size();
  std::vector<double> latency(n, 0);
  using Entry = std::pair<double, std::size_t>;  // finishes at `done` =, request
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> running;
  std::deque<std::size_t> waiting;
  double t = 0, done = 0;
  std::size_t next = 0, finished = 0;
  while (finished < n) {
    const std::size_t busy = running.size();
    const double rate = busy ? 1.0 / curve.seconds(static_cast<double>(busy)) : 0;
    const double t_finish = busy ? t + (running.top().first - done) / rate : kInf;
    const double t_arrive = next < n ? arrival[next] : kInf;
    if (t_arrive <= t_finish) {
      done += rate * (t_arrive - t);
      t = t_arrive;
      waiting.push_back(next++);
    } else {
      done = running.top().first;
      t = t_finish;
      const std::size_t r = running.top().second;
      running.pop();
      latency[r] = t - arrival[r];
      ++finished;
    }
    while (running.size() < servers && !waiting.empty()) {
      const std::size_t r = waiting.front();
      waiting.pop_front();
      running.emplace(done + work[r], r);
    }
  }
  return latency;
}

std::vector<double> draw_work(std::size_t n, std::span<const double> relative_work, std::mt19937& rng) {
  std::vector<double> work(n, 1.0);
  if (relative_work.empty()) return work;
  std::uniform_int_distribution<std::size_t> pick(0, relative_work.size() - 1);
  for (double& w : work) w = std::max(1e-6, relative_work[pick(rng)]);
  return work;
}

}  // namespace

ServiceCurve::ServiceCurve(std::vector<std::pair<double, double>> points) : points_(std::move(points)) {
  std::sort(points_.begin(), points_.end());
}

double ServiceCurve::seconds(double k) const {
  if (points_.empty()) return 0;
  if (k <= points_.front().first) return points_.front().second;
  const auto& [k_last, s_last] = points_.back();
  if (k >= k_last) return s_last * k / k_last;
  auto hi = std::lower_bound(points_.begin(), points_.end(), std::make_pair(k, -kInf));
  auto lo = hi - 1;
  const double f = (k - lo->first) / (hi->first - lo->first);
  return lo->second + f * (hi->second - lo->second);
}

double ServiceCurve::throughput(double k) const {
  const double s = seconds(k);
  return s > 0 ? k / s : 0;
}

Prediction predict(const ServiceCurve& curve, std::size_t servers, const Arrivals& arrivals,
                   std::span<const double> relative_work, std::uint32_t seed) {
  Prediction p;
  servers = std::max<std::size_t>(servers, 1);
  std::mt19937 rng(seed);
  if (arrivals.kind == Arrivals::Kind::kBurst) {
    const std::size_t n = std::max<std::size_t>(arrivals.callers, 1);
    // Identical requests need one run; a spread of sizes is averaged over
    // many draws.
    const int runs = relative_work.empty() ? 1 : 200;
    const std::vector<double> at(n, 0.0);
    for (int i = 0; i < runs; ++i) {
      std::vector<double> latency = run(curve, servers, at, draw_work(n, relative_work, rng));
      std::sort(latency.begin(), latency.end());
      double sum = 0;
      for (double l : latency) sum += l;
      p.p50_s += nearest_rank(latency, 0.50) / runs;
      p.p99_s += nearest_rank(latency, 0.99) / runs;
      p.mean_s += sum / static_cast<double>(n) / runs;
      p.makespan_s += latency.back() / runs;
    }
    p.throughput = p.makespan_s > 0 ? static_cast<double>(n) / p.makespan_s : 0;
    return p;
  }
  // Poisson: one long run; the first tenth warms the queue up and is not
  // counted.
  const std::size_t n = arrivals.requests ? arrivals.requests : 20000;
  std::exponential_distribution<double> gap(arrivals.rate > 0 ? arrivals.rate : 1e-9);
  std::vector<double> at(n);
  double t = 0;
  for (double& a : at) a = (t += gap(rng));
  std::vector<double> latency = run(curve, servers, at, draw_work(n, relative_work, rng));
  p.stable = arrivals.rate < curve.throughput(static_cast<double>(servers));
  latency.erase(latency.begin(), latency.begin() + static_cast<std::ptrdiff_t>(n / 10));
  double sum = 0;
  for (double l : latency) sum += l;
  p.mean_s = sum / static_cast<double>(latency.size());
  std::sort(latency.begin(), latency.end());
  p.p50_s = nearest_rank(latency, 0.50);
  p.p99_s = nearest_rank(latency, 0.99);
  p.throughput = p.stable ? arrivals.rate : curve.throughput(static_cast<double>(servers));
  return p;
}

}  // namespace modelpool::cli::advise
