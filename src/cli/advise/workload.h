// What `modelpool advise` sends a model, and the loads it drives: one kind
// of request (the model's own: a transcription, a synthesis, a completion,
// a tensor run) repeated by callers in a closed loop, in a burst, or at
// Poisson arrivals. Every request goes through Model::infer or
// Model::generate, as a server's would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "modelpool/generation.h"
#include "modelpool/model.h"
#include "modelpool/status.h"

namespace modelpool::cli::advise {

struct WorkloadOptions {
  std::string audio_path;        // a transcribing model's input file
  std::string text;              // a speaking model's input (default: a sentence)
  std::size_t prompt_words = 64;  // a text model's prompt, in words
  std::size_t max_tokens = 32;   // a text model's completion (end of text ignored)
};

// One answered request, seen from its caller.
struct Outcome {
  double latency_s = 0;  // from arrival to answer
  double service_s = 0;  // the model's work on it (queue wait excluded)
  double arrival_s = 0;  // run_poisson: when it arrived, from the first arrival's start
  std::string error;     // empty when it succeeded
};

class Workload {
 public:
  // The request `model` is measured with: built from its capabilities
  // (kTranscribe: the audio file; kSpeak: the text; kGenerate: a prompt of
  // prompt_words words and max_tokens tokens, greedy; otherwise a kInfer
  // run without inputs, as the sim model takes). kInvalidArgument naming
  // the missing option.
  static Result<Workload> for_model(const Model& model, const WorkloadOptions& options);

  // Runs one request, waiting at most `timeout` in all.
  Outcome run(Model& model, std::chrono::seconds timeout = std::chrono::seconds(600)) const;

  // "transcription of a.wav (3.9 s)", "completion: 64-word prompt, 32 tokens"...
  const std::string& describe() const { return description_; }
  // A text model's completion (its `threads` setting matters).
  bool generates() const { return generates_; }

 private:
  bool generates_ = false;
  Request request_;
  GenerationRequest generation_;
  std::string description_;
};

// `callers` requests in service all the time, `callers` x `each` in all, run
// by `threads` (>= callers) threads in turn, as a server's many handler
// threads take requests: an engine that keeps per-thread state (malloc's
// arenas, caches) sees as many threads as it would serving that many callers.
std::vector<Outcome> run_closed_loop(Model& model, const Workload& work, std::size_t callers,
                                     std::size_t each, std::size_t threads = 0);
// `callers` callers released together, one request each; latency from the
// common release.
std::vector<Outcome> run_burst(Model& model, const Workload& work, std::size_t callers);
// `count` requests at Poisson arrivals of `rate` per second (seeded); each
// waits in the model's own queue.
std::vector<Outcome> run_poisson(Model& model, const Workload& work, double rate, std::size_t count,
                                 std::uint32_t seed);

// The first error among `outcomes` and how many failed ("" and 0 if none).
std::pair<std::size_t, std::string> errors_of(const std::vector<Outcome>& outcomes);

}  // namespace modelpool::cli::advise
