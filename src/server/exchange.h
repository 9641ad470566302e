// Exchange: one HTTP request and the means to answer it, handed to the API
// handlers. Every method may be called from any thread (it posts to the
// connection's I/O thread), so a handler may answer from a worker thread or from
// an engine's streaming callback.
#pragma once

#include <boost/beast/http.hpp>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

namespace modelpool::server {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;

class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual const HttpRequest& request() const = 0;

  // Answers with a complete response. Call at most once, and not after
  // start_stream().
  virtual void respond(http::status status, std::string body,
                       std::string_view content_type = "application/json",
                       std::initializer_list<std::pair<std::string_view, std::string>> headers = {}) = 0;

  // Starts a chunked response (server-sent events); then write() chunks and
  // finish() once.
  virtual void start_stream(std::string_view content_type) = 0;
  // False once the client is gone (the data is dropped).
  virtual bool write(std::string data) = 0;
  virtual void finish() = 0;

  // Requested when the client disconnects before the answer is complete.
  virtual std::stop_token client_gone() const = 0;
};

// Each API answers errors in its own shape (the status codes are the same):
//   kOpenAI  {"error": {"message": ..., "type": ..., "code": ...}}  (/v1, and
//            any path that is not KServe's)
//   kKServe  {"error": "message"}  (/v2 and below: the KServe v2 / Triton
//            REST protocol's inference error response)
enum class ErrorFormat { kOpenAI, kKServe };

// The format of the API that serves `target` (a request target; a query is
// ignored): kKServe for /v2 and /v2/..., kOpenAI otherwise.
ErrorFormat error_format_of(std::string_view target);

// The error body in `format`; kKServe has no place for `type` and `code`.
std::string error_body(ErrorFormat format, std::string_view message, std::string_view type, int code);

}  // namespace modelpool::server
