// StepCostModel: what one step of continuous batching costs on this engine
// and machine, learned from the steps that ran, so that the scheduler can
// choose how many prompt units a step carries while other items decode.
//
// The model, fitted by least squares over the recent steps (older ones
// weigh less, so it follows a machine that speeds up or slows down):
//
//   a step of d decoding units              t = a + b d
//   the same step with p prompt units too   t = a + b d + c + e p
//
// c is what mixing costs on its own (llama.cpp, with one KV stream per
// sequence, runs such a step as two or more micro-batches: one more pass
// over the weights), e what a prompt unit costs. Until enough steps of both
// kinds have run, the model knows nothing (prompt_budget returns nullopt).
// The decoding terms change slowly; the prompt terms follow the last few
// steps (see mixed_), so a scheduler that asks before every step keeps a
// long prompt's chunks within the stall as they grow dearer.
//
// Thread safety: none; the scheduler's loop thread owns it.
#pragma once

#include <cstddef>
#include <optional>

namespace modelpool {

class StepCostModel {
 public:
  // One step that took `seconds`.
  void record(std::size_t decode_units, std::size_t prompt_units, double seconds);

  // Predicted seconds of a step of `decode_units` decoding units alone.
  // nullopt before any such step.
  std::optional<double> decode_step_s(std::size_t decode_units) const;

  // The most prompt units a step with `decode_units` decoding units may
  // carry and still take at most `stall` times as long as it would without
  // them (at least 1). nullopt until both kinds of steps have been seen.
  std::optional<std::size_t> prompt_budget(std::size_t decode_units, double stall) const;

  // The fitted terms, for tests and reports (0 before they are known).
  double fixed_s() const;        // a
  double per_decode_s() const;   // b
  double mix_s() const;          // c
  double per_prompt_s() const;   // e

 private:
  // Exponentially weighted sums for a straight-line fit y = k0 + k1 x.
  struct Line {
    explicit Line(double decay) : decay(decay) {}
    double decay;  // weight left to a step after each newer one
    double w = 0, x = 0, y = 0, xx = 0, xy = 0;
    std::size_t n = 0;
    void add(double xv, double yv);
    // Intercept and slope; the slope is 0 (and the intercept the mean) when
    // the x seen so far barely vary.
    double intercept() const;
    double slope() const;
    bool varied() const;
  };
  static constexpr std::size_t kMinSteps = 4;

  // Decoding steps: t against d, over the last ~50 steps (a machine's speed
  // changes slowly).
  Line decode_{0.98};
  // Steps with prompt units: t - (a + b d) against p, over the last few: a
  // prompt unit costs more the longer the sequence it extends (attention
  // reads every unit before it), so one long prompt's chunks grow dearer
  // step by step, and the model must follow them.
  Line mixed_{0.7};
};

}  // namespace modelpool
