#include "modelpool/status.h"

#include <cstdio>
#include <cstdlib>

namespace modelpool {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kTimeout: return "timeout";
    case StatusCode::kCancelled: return "cancelled";
    case StatusCode::kQueueFull: return "queue_full";
    case StatusCode::kShuttingDown: return "shutting_down";
    case StatusCode::kModelFailed: return "model_failed";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  std::string out(status_code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

namespace internal {
void die_on_bad_result_access(const Status& status) {
  std::fprintf(stderr, "modelpool: value() called on an error Result: %s\n",
               status.to_string().c_str());
  std::abort();
}
}  // namespace internal

}  // namespace modelpool
