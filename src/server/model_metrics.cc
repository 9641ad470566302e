#include "server/model_metrics.h"

namespace modelpool::server {
namespace {

std::chrono::nanoseconds seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

}  // namespace

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kCancelled: return "cancelled";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kRejected: return "rejected";
    case Outcome::kCutOff: return "cut_off";
    case Outcome::kError: return "error";
  }
  return "error";
}

std::pair<Outcome, int> outcome_of(const Status& status, StopReason reason) {
  // A stop decides the outcome whatever the engine made of it: a generation
  // stopped mid-way returns ok with the text so far, but its client saw no
  // complete answer.
  if (reason == StopReason::kShutdown) return {Outcome::kCutOff, 503};
  if (reason == StopReason::kClientGone) return {Outcome::kCancelled, 499};
  switch (status.code()) {
    case StatusCode::kOk: return {Outcome::kOk, 200};
    case StatusCode::kCancelled: return {Outcome::kCancelled, 499};
    case StatusCode::kTimeout: return {Outcome::kTimeout, 504};
    case StatusCode::kQueueFull: return {Outcome::kRejected, 429};
    case StatusCode::kShuttingDown: return {Outcome::kRejected, 503};
    case StatusCode::kInvalidArgument: return {Outcome::kError, 400};
    case StatusCode::kNotFound: return {Outcome::kError, 404};
    case StatusCode::kModelFailed: return {Outcome::kError, 503};
    case StatusCode::kInternal: return {Outcome::kError, 500};
  }
  return {Outcome::kError, 500};
}

void ModelMetrics::count(Outcome outcome, int http_status) {
  std::lock_guard lock(mu_);
  ++outcomes_[{outcome, http_status}];
}

std::vector<std::pair<std::pair<Outcome, int>, std::uint64_t>> ModelMetrics::outcomes() const {
  std::lock_guard lock(mu_);
  return {outcomes_.begin(), outcomes_.end()};
}

void ModelMetrics::record_generation(const GenerationResult& r) {
  tokens_generated += static_cast<std::uint64_t>(r.completion_tokens);
  prompt_tokens += static_cast<std::uint64_t>(r.prompt_tokens);
  queue_wait.record(seconds(r.queue_s));
  inference.record(seconds(r.total_s - r.queue_s));
  request_duration.record(seconds(r.total_s));
  if (r.completion_tokens > 0) time_to_first_token.record(seconds(r.ttft_s));
  if (const auto& t = r.token_times_s; t.size() > 1) {
    time_per_output_token.record(seconds((t.back() - t.front()) / static_cast<double>(t.size() - 1)));
  }
}

}  // namespace modelpool::server
