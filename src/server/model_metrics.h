// ModelMetrics: what one model's callers experienced, for /metrics.
//
// Every request that reached a model ends in exactly one Outcome, named for
// what the client saw, with the HTTP status it got:
//   ok         200: an answer (a generation that stopped at a stop string or
//              max_tokens included)
//   cancelled  499: the client went away first (queued or mid-stream)
//   timeout    504: its deadline passed while it waited
//   rejected   429 queue full, 503 refused while draining
//   cut_off    503 or a stream's error event: the server's drain deadline
//              ended it
//   error      any other status (400, 404, 500, 503 model failed, ...)
// Latencies are recorded for every mode: queue wait is the time from arrival
// until the model started on the request (for a batched LLM: until its first
// prompt tokens were in a decoding step, not merely until it got a slot).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "modelpool/histogram.h"
#include "modelpool/generation.h"
#include "modelpool/status.h"
#include "server/exchange.h"

namespace modelpool::server {

enum class Outcome { kOk, kCancelled, kTimeout, kRejected, kCutOff, kError };
std::string_view outcome_name(Outcome outcome);

// The outcome and HTTP status of a request that ended with `status`
// (ok or not), its exchange having been stopped for `reason`.
std::pair<Outcome, int> outcome_of(const Status& status, StopReason reason);

class ModelMetrics {
 public:
  // One request ended: its outcome and the status the client got.
  void count(Outcome outcome, int http_status);
  // Requests by outcome and status, sorted.
  std::vector<std::pair<std::pair<Outcome, int>, std::uint64_t>> outcomes() const;

  // A finished generation's tokens and latencies.
  void record_generation(const GenerationResult& r);

  std::atomic<std::uint64_t> tokens_generated{0};
  std::atomic<std::uint64_t> prompt_tokens{0};
  LatencyHistogram queue_wait;         // arrival to work started
  LatencyHistogram inference;          // work started to the end
  LatencyHistogram request_duration;   // arrival to the end
  LatencyHistogram time_to_first_token;
  LatencyHistogram time_per_output_token;  // mean gap after the first token, per request

 private:
  mutable std::mutex mu_;
  std::map<std::pair<Outcome, int>, std::uint64_t> outcomes_;  // guarded by mu_
};

}  // namespace modelpool::server
