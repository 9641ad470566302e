// DeadlineStop: a stop token that fires at a deadline as well as when the
// caller's token does, so an instance's run (which only watches its
// stop_token) ends at its request's deadline like a queued request does.
//
//   DeadlineStop timed(deadline, caller_stop);
//   Status s = instance.run(request, sink, timed.token());
//   if (!s.ok() && timed.expired()) s = timeout_error("...");
//
// One timer thread serves the whole process (started on first use); a
// deadline of kNoDeadline registers nothing and the token is the caller's.
// A run that ignores its token is not stopped by this: process isolation
// kills such a worker (hang_grace).
//
// Thread safety: construct and destroy on one thread; token() and
// expired() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <stop_token>

#include "modelpool/pool.h"

namespace modelpool {

class DeadlineStop {
 public:
  DeadlineStop(Deadline deadline, std::stop_token caller);
  ~DeadlineStop();
  DeadlineStop(const DeadlineStop&) = delete;
  DeadlineStop& operator=(const DeadlineStop&) = delete;

  std::stop_token token() const { return registered_ ? source_.get_token() : caller_; }
  // True once the deadline, not the caller, fired the token.
  bool expired() const { return expired_.load(std::memory_order_acquire); }

 private:
  struct Forward {
    std::stop_source source;
    void operator()() noexcept { source.request_stop(); }
  };
  friend struct DeadlineTimer;

  std::stop_token caller_;
  std::stop_source source_;
  std::optional<std::stop_callback<Forward>> forward_;
  std::uint64_t id_ = 0;
  Deadline deadline_{};
  bool registered_ = false;
  std::atomic<bool> expired_{false};
};

}  // namespace modelpool
