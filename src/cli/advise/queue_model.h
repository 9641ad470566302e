// The queueing model behind `modelpool advise`: a pool of `servers`
// (instances, or a batched model's slots) in front of one FIFO queue, whose
// speed is the machine's measured scaling curve, not an assumption.
//
// The measured curve says how long one request takes while k requests run at
// once (k callers in a closed loop on k instances or slots): s(k). On
// perfectly parallel hardware s(k) = s(1); on 2 cores a CPU-bound model has
// s(k) = k/2 · s(1) past k = 2. The model treats every running request as
// progressing at 1/s(b) of its work per second while b requests run, so a
// pool of c servers behaves as the measurements did at every occupancy,
// including a burst's last, partly empty round. Arrivals are a burst (N
// callers at once, one request each) or Poisson at a rate. The model is
// solved by discrete-event simulation: exact for this service law, and
// percentiles come out directly.
//
//   ServiceCurve curve({{1, 1.43}, {2, 1.45}, {4, 2.90}});
//   Prediction p = predict(curve, 2, Arrivals::burst(30), {}, 1);
//   // p.makespan_s ~ 30 x 1.45 / 2, p.p99_s ~ p.makespan_s
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace modelpool::cli::advise {

// Service time against the number of requests running at once, measured.
class ServiceCurve {
 public:
  // `points`: (k, mean seconds of one request while k run), k >= 1. They
  // are sorted by k; at least one is required (an empty curve answers 0).
  explicit ServiceCurve(std::vector<std::pair<double, double>> points = {});

  // s(k): linear between measured points; below the first, the first
  // point's time; past the last, the last point's throughput holds
  // (s(k) = s(k_last) · k / k_last): measuring stops once throughput has
  // stopped growing, or at the largest pool the limits allow.
  double seconds(double k) const;
  // Requests per second while k run: k / s(k).
  double throughput(double k) const;
  // The largest measured k.
  double last_k() const { return points_.empty() ? 0 : points_.back().first; }
  const std::vector<std::pair<double, double>>& points() const { return points_; }

 private:
  std::vector<std::pair<double, double>> points_;
};

struct Arrivals {
  enum class Kind { kBurst, kPoisson };
  Kind kind = Kind::kBurst;
  std::size_t callers = 1;  // burst: requests arriving at once
  double rate = 0;          // poisson: requests per second
  std::size_t requests = 0;  // poisson: how many to simulate (0: 20000)

  static Arrivals burst(std::size_t callers) { return {Kind::kBurst, callers, 0, 0}; }
  static Arrivals poisson(double rate, std::size_t requests = 0) {
    return {Kind::kPoisson, 0, rate, requests};
  }
};

struct Prediction {
  double throughput = 0;  // completed requests per second
  double p50_s = 0, p99_s = 0, mean_s = 0;  // latency: arrival to answer
  double makespan_s = 0;  // burst: until the last answer
  // poisson: false when the rate is at or over what `servers` can sustain;
  // then latency grows without bound and p50/p99 are those of the
  // simulated stretch only.
  bool stable = true;
};

// Simulates `servers` (>= 1) under `arrivals`. `relative_work` are measured
// service times divided by their mean (the spread of one request's work);
// empty means every request is the same size. Bursts are simulated many
// times with different draws and averaged; `seed` makes the result
// repeatable. Percentiles by nearest rank, as the measurements are.
Prediction predict(const ServiceCurve& curve, std::size_t servers, const Arrivals& arrivals,
                   std::span<const double> relative_work, std::uint32_t seed);

}  // namespace modelpool::cli::advise
