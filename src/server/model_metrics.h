// ModelMetrics: what one model's callers experienced, for /metrics.
//
// Counting is lock-free: counters are atomics, so recording on the data
// path never waits on a scrape. The one lock is the recent errors' ring
// (record_error): a short mutex held to copy one bounded message, taken only
// for requests that failed.
//
// Every request that reached a model ends in exactly one Outcome, named for
// what the client saw, with the HTTP status it got:
//   ok         200: an answer (a generation that stopped at a stop string or
//              max_tokens included)
//   cancelled  499: the client went away first (queued or mid-stream), or
//              stopped reading its stream until the stream's buffer
//              overflowed (also counted in stream_overflows)
//   timeout    504: its deadline passed while it waited
//   rejected   429 queue full, 503 refused while draining
//   cut_off    503 or a stream's error event: the server's drain deadline
//              ended it
//   error      any other status (400, 404, 500, 503 model failed, ...)
// Latencies are recorded for every mode: queue wait is the time from arrival
// until the model started on the request (for a batched LLM: until its first
// prompt tokens were in a decoding step, not merely until it got a slot).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelpool/histogram.h"
#include "modelpool/generation.h"
#include "modelpool/status.h"
#include "server/exchange.h"

namespace modelpool::server {

enum class Outcome { kOk, kCancelled, kTimeout, kRejected, kCutOff, kError };
inline constexpr std::size_t kOutcomes = 6;
std::string_view outcome_name(Outcome outcome);

// The HTTP statuses a request's outcome is counted with, ascending: every
// status outcome_of() gives.
inline constexpr std::array<int, 8> kCountedCodes = {200, 400, 404, 429, 499, 500, 503, 504};

// Requests that ended in one outcome with one status.
struct OutcomeCount {
  Outcome outcome;
  int code;
  std::uint64_t count;
};

// The outcome and HTTP status of a request that ended with `status`
// (ok or not), its exchange having been stopped for `reason`.
std::pair<Outcome, int> outcome_of(const Status& status, StopReason reason);

// A request that failed, as its client was told.
struct RecentError {
  std::chrono::system_clock::time_point time;  // when it was answered
  int code = 0;                                // the HTTP status
  std::string message;                         // the error's message, at most kErrorMessageBytes
};

class ModelMetrics {
 public:
  // How many failed requests recent_errors() keeps, and how much of each
  // one's message.
  static constexpr std::size_t kRecentErrors = 20;
  static constexpr std::size_t kErrorMessageBytes = 300;

  // One request ended: its outcome and the status the client got (a status
  // not in kCountedCodes is counted as 500).
  void count(Outcome outcome, int http_status);
  // Requests by outcome and status, those counted at least once, sorted by
  // outcome (in enum order), then status.
  std::vector<OutcomeCount> outcomes() const;

  // Keeps a failed request in the ring of recent errors (the oldest goes
  // when it is full); a message longer than kErrorMessageBytes is cut at a
  // character boundary and ends with "...", and bytes that are not UTF-8
  // are kept as U+FFFD (the dashboard's JSON quotes it). Takes the ring's
  // mutex.
  void record_error(int http_status, std::string_view message);
  // The recent errors, oldest first (at most kRecentErrors).
  std::vector<RecentError> recent_errors() const;

  // A finished generation's tokens and latencies.
  void record_generation(const GenerationResult& r);

  std::atomic<std::uint64_t> tokens_generated{0};
  std::atomic<std::uint64_t> prompt_tokens{0};
  // Streams stopped because their client stopped reading (StopReason::
  // kSlowClient); each is also counted cancelled/499.
  std::atomic<std::uint64_t> stream_overflows{0};
  LatencyHistogram queue_wait;         // arrival to work started
  LatencyHistogram inference;          // work started to the end
  LatencyHistogram request_duration;   // arrival to the end
  LatencyHistogram time_to_first_token;
  LatencyHistogram time_per_output_token;  // mean gap after the first token, per request

 private:
  std::array<std::array<std::atomic<std::uint64_t>, kCountedCodes.size()>, kOutcomes> outcomes_{};

  mutable std::mutex errors_mu_;
  // Guarded by errors_mu_: a ring, errors_next_ is where the next one goes.
  std::array<RecentError, kRecentErrors> errors_;
  std::size_t errors_next_ = 0;
  std::size_t errors_size_ = 0;
};

}  // namespace modelpool::server
