// Exchange: one HTTP request and the means to answer it, handed to the API
// handlers. Every method may be called from any thread (it posts to the
// connection's I/O thread), so a handler may answer from a worker thread or from
// an engine's streaming callback.
#pragma once

#include <boost/beast/http.hpp>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "modelpool/buffer.h"

namespace modelpool::server {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;

// Why an exchange's stop token fired.
enum class StopReason {
  kNone,        // not stopped
  kClientGone,  // the client disconnected (or half-closed) before the answer was complete
  kShutdown,    // the server's drain deadline passed: the request is cut off
  kSlowClient,  // the client stopped reading a stream: its queued bytes went
                // past the stream buffer (HttpOptions::stream_buffer_bytes)
};

// What the handler knows about a request that the HTTP layer does not, for
// the access log.
struct AccessNote {
  std::string model;
  std::int64_t prompt_tokens = -1;      // -1: not a generation
  std::int64_t completion_tokens = -1;
  std::string user;                     // the client's `user` field, if any
};

// A request's own body limit, chosen from its request line and headers
// before its body is read (HttpOptions::body_limit), so that one route (an
// audio upload) may take larger bodies than the others.
struct BodyLimit {
  std::size_t bytes = 0;  // 0: the server's max_body_bytes
  std::string refusal;    // the 413's message; empty: the server's own words
};

class Exchange {
 public:
  virtual ~Exchange() = default;

  // The request line and headers. Its body() is empty: the body is body().
  virtual const HttpRequest& request() const = 0;

  // The request body, moved (not copied) out of the request when it was
  // read, so that what is parsed from it may view it instead of copying it:
  // a binary tensor's data is a slice of this buffer (binary_tensors.h).
  virtual const Buffer& body() const = 0;

  // Answers with a complete response. Call at most once, and not after
  // start_stream(). A HEAD request gets the headers (Content-Length
  // included) without the body.
  virtual void respond(http::status status, std::string body,
                       std::string_view content_type = "application/json",
                       std::initializer_list<std::pair<std::string_view, std::string>> headers = {}) = 0;

  // Starts a streamed response (server-sent events); then write() pieces and
  // finish() once. HTTP/1.1 clients get chunked transfer coding; HTTP/1.0
  // clients get the raw bytes and the end of the stream is the connection's
  // close.
  virtual void start_stream(std::string_view content_type) = 0;
  // Queues `data` for the client. The bytes queued and not yet taken by the
  // client's socket are bounded (HttpOptions::stream_buffer_bytes; one piece
  // alone may exceed it): a piece that would take them past the bound is
  // dropped, the request is stopped with StopReason::kSlowClient (stop()
  // fires, so a generation ends within one step) and the connection closes
  // once finish() is called. False when the data is dropped: the client
  // went away, or its stream overflowed now or before.
  virtual bool write(std::string data) = 0;
  virtual void finish() = 0;

  // Requested when the client disconnects before the answer is complete,
  // when it stops reading a stream (above), or when the server cuts the
  // request off at its drain deadline; pass it to the model as the stop
  // token. stop_reason() says which.
  virtual std::stop_token stop() const = 0;
  virtual StopReason stop_reason() const = 0;

  // Model, tokens and user for the access log line. Call before respond()
  // or finish().
  virtual void note(AccessNote note) = 0;
};

}  // namespace modelpool::server
