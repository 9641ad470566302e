// The advice as pictures (gnuplot, chart.h), written by `advise --charts DIR`:
//   DIR/advise-tradeoff.svg  memory against time to answer every caller (burst:
//                            makespan; Poisson: p99), one point per pool
//                            size, predicted, beside the naive theory
//                            (ram = pool x model, time = ceil(n / pool) x t)
//                            and the verified point
//   DIR/advise-scaling.svg   requests/s against requests at once: measured
//                            per way, the curve the model uses, perfect scaling
//   DIR/advise-latency.svg   predicted p50 and p99 against pool size (and the
//                            verified ones)
// (and .png beside each where gnuplot has pngcairo).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/advise/measure.h"
#include "cli/advise/recommend.h"
#include "cli/advise/verify.h"

namespace modelpool::cli::advise {

// Returns the files written; kInternal/kNotFound from gnuplot (chart.h).
Result<std::vector<std::string>> write_advice_charts(const Measurement& m, const Advice& a, const Goal& g,
                                                     const std::optional<Verified>& verified,
                                                     const std::string& dir);

}  // namespace modelpool::cli::advise
