// Status and Result<T>: errors as values on the data path.
//
// Every operation that serves a request (acquiring an instance, running it)
// reports its outcome as a Status instead of throwing. The codes map one to
// one onto what a caller must tell apart:
//
//   kOk               it worked.
//   kTimeout          the deadline passed first (HTTP 504).
//   kCancelled        the caller's stop token fired first.
//   kQueueFull        rejected at once: the wait queue is at its limit (429).
//   kShuttingDown     the pool or server is draining (503).
//   kModelFailed      the model cannot serve: loading or instance creation
//                     keeps failing; the message says why.
//   kInvalidArgument  the request itself is wrong; the message names the field.
//   kNotFound         no such model, backend or file.
//   kInternal         a bug or an engine failure not covered above.
//
// Both types are [[nodiscard]]: a caller cannot silently ignore a failed
// acquire. An ok Status holds an empty message and never allocates.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace modelpool {

enum class StatusCode {
  kOk = 0,
  kTimeout,
  kCancelled,
  kQueueFull,
  kShuttingDown,
  kModelFailed,
  kInvalidArgument,
  kNotFound,
  kInternal,
};

// Stable lower-case name of a code ("ok", "timeout", "queue_full", ...), used
// in logs, metrics labels and JSON.
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "queue_full: queue of model 'm' holds 64 waiters (max_queue)".
  std::string to_string() const;

  // Explicitly discards a status where failure is truly irrelevant.
  void ignore() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Shorthands that read like the outcome they build.
inline Status timeout_error(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
inline Status cancelled_error(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status queue_full_error(std::string m) { return {StatusCode::kQueueFull, std::move(m)}; }
inline Status shutting_down_error(std::string m) { return {StatusCode::kShuttingDown, std::move(m)}; }
inline Status model_failed_error(std::string m) { return {StatusCode::kModelFailed, std::move(m)}; }
inline Status invalid_argument_error(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status not_found_error(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or the Status saying why there is none (absl::StatusOr in spirit).
//
// REQUIRES: value() and operator* / operator-> only when ok(); calling them on
// an error terminates the process with the error's message.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(state_).ok()) {
      state_ = Status(StatusCode::kInternal, "Result built from an ok Status without a value");
    }
  }

  bool ok() const { return std::holds_alternative<T>(state_); }

  // The error, or an ok Status when a value is present.
  Status status() const { return ok() ? Status() : std::get<Status>(state_); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }

  T& operator*() & { return checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->checked(); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->checked(); }

 private:
  T& checked();
  std::variant<T, Status> state_;
};

namespace internal {
[[noreturn]] void die_on_bad_result_access(const Status& status);
}  // namespace internal

template <typename T>
T& Result<T>::checked() {
  if (!ok()) internal::die_on_bad_result_access(std::get<Status>(state_));
  return std::get<T>(state_);
}

}  // namespace modelpool
