#include "server/model_metrics.h"

#include <algorithm>

#include "server/utf8.h"

namespace modelpool::server {
namespace {

// Where `code` is in kCountedCodes; kCountedCodes.size() when it is not.
constexpr std::size_t code_index(int code) {
  std::size_t i = 0;
  while (i < kCountedCodes.size() && kCountedCodes[i] != code) ++i;
  return i;
}
static_assert(code_index(500) < kCountedCodes.size());

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
  if (reason == StopReason::kClientGone || reason == StopReason::kSlowClient) {
    return {Outcome::kCancelled, 499};
  }
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
  std::size_t code = code_index(http_status);
  if (code == kCountedCodes.size()) code = code_index(500);
  outcomes_[static_cast<std::size_t>(outcome)][code].fetch_add(1, std::memory_order_relaxed);
}

std::vector<OutcomeCount> ModelMetrics::outcomes() const {
  std::vector<OutcomeCount> out;
  for (std::size_t o = 0; o < kOutcomes; ++o) {
    for (std::size_t c = 0; c < kCountedCodes.size(); ++c) {
      const std::uint64_t n = outcomes_[o][c].load(std::memory_order_relaxed);
      if (n > 0) out.push_back({static_cast<Outcome>(o), kCountedCodes[c], n});
    }
  }
  return out;
}

void ModelMetrics::record_error(int http_status, std::string_view raw) {
  const std::string text = valid_utf8(raw);
  const std::string_view message = text;
  RecentError e;
  e.time = std::chrono::system_clock::now();
  e.code = http_status;
  if (message.size() > kErrorMessageBytes) {
    std::size_t cut = kErrorMessageBytes;
    // Back to the start of a UTF-8 character.
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    e.message.reserve(cut + 3);
    e.message.append(message.substr(0, cut)).append("...");
  } else {
    e.message = message;
  }
  std::lock_guard lock(errors_mu_);
  errors_[errors_next_] = std::move(e);  // the old message is freed under the lock: bounded
  errors_next_ = (errors_next_ + 1) % kRecentErrors;
  errors_size_ = std::min(errors_size_ + 1, kRecentErrors);
}

std::vector<RecentError> ModelMetrics::recent_errors() const {
  std::vector<RecentError> out;
  out.reserve(kRecentErrors);
  std::lock_guard lock(errors_mu_);
  const std::size_t first = (errors_next_ + kRecentErrors - errors_size_) % kRecentErrors;
  for (std::size_t i = 0; i < errors_size_; ++i)
    out.push_back(errors_[(first + i) % kRecentErrors]);
  return out;
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
