// The access log line of one answered request:
//   127.0.0.1 "POST /v1/chat/completions HTTP/1.1" 200 1532.4ms model=default prompt_tokens=12 completion_tokens=64
// with " user=..." when the client named one and " incomplete" when the
// connection failed before the answer was written.
#pragma once

#include <string>

#include "server/http_server.h"

namespace modelpool::cli {

std::string access_line(const server::AccessRecord& record);

}  // namespace modelpool::cli
