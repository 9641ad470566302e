// HttpServer: the HTTP/1.x front end on Boost.Beast/Asio.
//
// Asynchronous keep-alive connections on a few I/O threads, each running its
// own event loop (a connection stays on the thread that accepted it, so no
// thread wakes another to serve it). Each request is parsed with body and
// header size limits and a read timeout (slow clients are dropped), then
// handed to `handler` as an Exchange. Handlers that block (inference) move to
// the Api's handler threads; the I/O threads never wait on a model.
//
// The protocol edges, as clients expect them:
//   - `Expect: 100-continue` is answered before the body is read (413 instead
//     when the announced body is over the limit);
//   - a malformed request line, header or Content-Length gets 400, a
//     Transfer-Encoding other than `chunked` 501, a header block over the
//     limit 431, a body over its limit 413 (each with a JSON body from
//     `error_body`), and the connection is closed; a body's limit is
//     max_body_bytes, or the one `body_limit` chooses for its request;
//   - HTTP/1.0 clients get no chunked coding: a stream ends with the close;
//   - HEAD gets the headers a GET would get, without the body.
//
// While a request is in flight its connection is still read: bytes that
// arrive (a pipelined request, stray bytes) are kept for the next request,
// and an end of stream or reset fires the Exchange's stop token
// (StopReason::kClientGone), which the handler passes to the model (queued
// work leaves the queue, a running generation stops within one decoding
// step). A client that half-closes its side counts as gone, as in nginx.
// Pipelined requests are answered in order.
//
// Writes are bounded too: an answer's write that the client does not take
// within `write_timeout` closes the connection (a stream's request is
// stopped as kClientGone), and a stream keeps at most `stream_buffer_bytes`
// queued for its client (Exchange::write: past it, kSlowClient).
//
// Shutdown: begin_drain() stops accepting, closes idle keep-alive
// connections and makes every later answer close its connection;
// cut_off() then stops every request still in flight with
// StopReason::kShutdown, so handlers end them cleanly; stop() closes all.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "modelpool/status.h"
#include "server/exchange.h"

namespace modelpool::server {

// One answered request, for the access log.
struct AccessRecord {
  std::string_view client;  // peer address
  std::string_view method;
  std::string_view target;
  unsigned version = 11;    // 10 or 11
  unsigned status = 0;
  double duration_s = 0;    // from the request read to the answer written
  const AccessNote* note = nullptr;
  bool completed = true;    // false: the connection failed before the answer was written
};

struct HttpOptions {
  // An IP address or a host name (every address it resolves to is bound).
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see port())
  std::size_t max_body_bytes = 1 << 20;
  // A request's own body limit, given its request line and headers (read
  // before the body): a body over it gets 413 with its refusal. Unset, or a
  // limit of 0 bytes: max_body_bytes. Called on the I/O thread; keep it cheap.
  std::function<BodyLimit(const HttpRequest&)> body_limit;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  // A write (an answer, or a piece of a stream) the client's socket has not
  // taken for this long ends the connection.
  std::chrono::milliseconds write_timeout{30000};
  // Bytes of a stream queued and not yet written to the socket, at most
  // (see Exchange::write).
  std::size_t stream_buffer_bytes = 1 << 20;
  std::size_t io_threads = 2;
  // The JSON body of an error the HTTP layer answers itself (400, 413, 431,
  // 501), given the request target when known (the API's error format
  // depends on the route).
  std::function<std::string(std::string_view target, std::string_view message, int code)> error_body;
  // Called on the I/O thread once per answered request; keep it cheap.
  std::function<void(const AccessRecord&)> on_answered;
};

using Handler = std::function<void(std::shared_ptr<Exchange>)>;

// ---- How a connection reads a request, as functions of the parser and the
// options alone (no socket), so that the rules can be tested and fuzzed on
// bytes (src/server/http_fuzz.cc) exactly as a connection applies them.

using RequestParser = http::request_parser<http::string_body>;

// An answer the HTTP layer gives itself instead of handing the request on;
// the connection closes after it.
struct Refusal {
  http::status status;
  std::string message;
};

// Makes a fresh `parser` ready for the next request of a connection: the
// header limit from `options`; no body limit yet (check_request_head sets it).
void prepare_request_parser(RequestParser& parser, const HttpOptions& options);

// Once `parser` has read a request's line and headers: sets `*limit` to the
// request's own body limit (HttpOptions::body_limit, else max_body_bytes)
// and makes the parser count the body against it. A refusal for a
// Content-Length over the limit (413, with the limit's own refusal), a
// Transfer-Encoding other than chunked (501), an Expect other than
// 100-continue on HTTP/1.1 (417); nullopt when the body is to be read
// (after answering "100 Continue" when the request expects it).
std::optional<Refusal> check_request_head(RequestParser& parser, const HttpOptions& options,
                                          BodyLimit* limit);

// The answer to a read of a request that failed with `ec`, its body limit
// being `limit`: 413 over the body limit, 431 over the header limit, 501 a
// bad Transfer-Encoding, 400 any other parse error; nullopt when the peer
// closed, timed out or reset (nothing to answer: close).
std::optional<Refusal> refusal_for_read_error(const boost::system::error_code& ec, const HttpOptions& options,
                                              const BodyLimit& limit);

namespace detail {
class Connection;
}

class HttpServer {
 public:
  HttpServer(HttpOptions options, Handler handler);
  ~HttpServer();

  // Resolves the host, binds every address and starts the I/O threads.
  // kInvalidArgument naming the host when it does not resolve; kInternal
  // naming the address when it cannot listen.
  Status start();
  std::uint16_t port() const { return port_; }
  // The addresses bound, as "host:port" strings.
  const std::vector<std::string>& addresses() const { return addresses_; }

  // Stops accepting new connections, closes the idle ones; answers from now
  // on close their connection. Requests already read are still served.
  void begin_drain();
  bool draining() const { return draining_.load(); }
  // Stops every request in flight with StopReason::kShutdown.
  void cut_off();
  // Requests being handled now (read, not yet fully answered).
  std::size_t in_flight() const { return in_flight_.load(); }
  // Closes every connection and stops the I/O threads.
  void stop();

  // Used by connections.
  std::atomic<std::size_t>& in_flight_counter() { return in_flight_; }
  const HttpOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  void add(detail::Connection* c, std::weak_ptr<detail::Connection> weak);
  void remove(detail::Connection* c);

 private:
  void accept(boost::asio::ip::tcp::acceptor& acceptor);
  // Runs `fn` on every live connection's own I/O thread.
  void for_each_connection(const std::function<void(detail::Connection&)>& fn);

  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  HttpOptions options_;
  Handler handler_;
  // Before the loops: connections destroyed with them still unregister.
  std::mutex connections_mu_;
  std::unordered_map<detail::Connection*, std::weak_ptr<detail::Connection>> connections_;  // guarded
  std::vector<std::unique_ptr<boost::asio::io_context>> loops_;  // one per I/O thread
  std::vector<WorkGuard> keep_running_;                            // idle loops wait for work
  std::atomic<std::size_t> next_loop_{0};
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;  // run on loops_[0]
  std::vector<std::string> addresses_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
};

}  // namespace modelpool::server
