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

// {"error": {"message": ..., "type": ..., "code": ...}}
std::string error_body(std::string_view message, std::string_view type, int code);

}  // namespace modelpool::server
