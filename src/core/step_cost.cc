// StepCostModel (include/modelpool/step_cost.h).
#include "modelpool/step_cost.h"

#include <algorithm>
#include <cmath>

namespace modelpool {

void StepCostModel::Line::add(double xv, double yv) {
  w = w * decay + 1;
  x = x * decay + xv;
  y = y * decay + yv;
  xx = xx * decay + xv * xv;
  xy = xy * decay + xv * yv;
  ++n;
}

bool StepCostModel::Line::varied() const {
  if (w <= 0) return false;
  const double mean = x / w;
  const double var = xx / w - mean * mean;
  return var > 0.25 * std::max(1.0, mean);  // x in units: a spread of a unit or more
}

double StepCostModel::Line::slope() const {
  if (!varied()) return 0;
  const double det = w * xx - x * x;
  return (w * xy - x * y) / det;
}

double StepCostModel::Line::intercept() const {
  if (w <= 0) return 0;
  return (y - slope() * x) / w;
}

void StepCostModel::record(std::size_t decode_units, std::size_t prompt_units, double seconds) {
  const auto d = static_cast<double>(decode_units);
  if (prompt_units == 0) {
    decode_.add(d, seconds);
    return;
  }
  // Only steps that mix: a step of prompts alone has no decoding stream to
  // stall, and it is one micro-batch, not the mix.
  if (decode_units == 0) return;
  const std::optional<double> alone = decode_step_s(decode_units);
  if (!alone) return;
  mixed_.add(static_cast<double>(prompt_units), seconds - *alone);
}

std::optional<double> StepCostModel::decode_step_s(std::size_t decode_units) const {
  if (decode_.n == 0) return std::nullopt;
  const double b = per_decode_s();
  const double a = (decode_.y - b * decode_.x) / decode_.w;
  return std::max(1e-6, a + b * static_cast<double>(decode_units));
}

std::optional<std::size_t> StepCostModel::prompt_budget(std::size_t decode_units,
                                                        double stall) const {
  if (decode_.n < kMinSteps || mixed_.n < kMinSteps) return std::nullopt;
  const double alone = *decode_step_s(decode_units);
  double c = 0, e = 0;
  if (mixed_.varied()) {
    e = mixed_.slope();
    c = mixed_.intercept();
  }
  if (!mixed_.varied() || e <= 0) {
    // One chunk size seen (or a slope the noise made negative): all of the
    // extra time is put on the units, which overstates a unit's cost and
    // so errs towards smaller chunks.
    const double mean_p = mixed_.x / mixed_.w;
    e = std::max(1e-9, (mixed_.y / mixed_.w) / std::max(1.0, mean_p));
    c = 0;
  }
  c = std::max(0.0, c);
  const double room = (stall - 1) * alone - c;
  if (room <= e) return 1;
  return static_cast<std::size_t>(std::floor(room / e));
}

double StepCostModel::fixed_s() const {
  return decode_.n ? (decode_.y - per_decode_s() * decode_.x) / decode_.w : 0;
}
double StepCostModel::per_decode_s() const { return std::max(0.0, decode_.slope()); }
double StepCostModel::mix_s() const { return mixed_.n ? std::max(0.0, mixed_.intercept()) : 0; }
double StepCostModel::per_prompt_s() const { return mixed_.n ? mixed_.slope() : 0; }

}  // namespace modelpool
