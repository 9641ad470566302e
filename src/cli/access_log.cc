#include "cli/access_log.h"

#include <cstdio>

namespace modelpool::cli {

std::string access_line(const server::AccessRecord& r) {
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.1fms", r.duration_s * 1e3);
  std::string line;
  line.reserve(160);
  line.append(r.client).append(" \"").append(r.method).append(" ").append(r.target);
  line.append(r.version == 10 ? " HTTP/1.0\" " : " HTTP/1.1\" ");
  line.append(std::to_string(r.status)).append(" ").append(duration);
  if (const server::AccessNote* n = r.note) {
    if (!n->model.empty()) line.append(" model=").append(n->model);
    if (n->prompt_tokens >= 0) line.append(" prompt_tokens=").append(std::to_string(n->prompt_tokens));
    if (n->completion_tokens >= 0) line.append(" completion_tokens=").append(std::to_string(n->completion_tokens));
    if (!n->user.empty()) line.append(" user=").append(n->user);
  }
  if (!r.completed) line.append(" incomplete");
  return line;
}

}  // namespace modelpool::cli
