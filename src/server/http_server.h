// HttpServer: the HTTP/1.1 front end on Boost.Beast/Asio.
//
// Asynchronous keep-alive connections on a few I/O threads, each running its
// own event loop (a connection stays on the thread that accepted it, so no
// thread wakes another to serve it); each request is
// parsed with body and header size limits and a read timeout (slow clients
// are dropped), then handed to `handler` as an Exchange. Handlers that block
// (inference) move to their own thread; the I/O threads never wait on a
// model. While a request is in flight the connection is watched: a client
// that disconnects fires the Exchange's client_gone() token, which the
// handler passes to the model as its stop token (queued work leaves the
// queue, running generation stops within one decoding step).
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "modelpool/status.h"
#include "server/exchange.h"

namespace modelpool::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see port())
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  std::size_t io_threads = 2;
};

using Handler = std::function<void(std::shared_ptr<Exchange>)>;

class HttpServer {
 public:
  HttpServer(HttpOptions options, Handler handler);
  ~HttpServer();

  // Binds and starts the I/O threads. kInvalidArgument / kInternal naming
  // the address when it cannot listen.
  Status start();
  std::uint16_t port() const { return port_; }

  // Stops accepting new connections; requests already read are still served.
  void stop_accepting();
  // Requests being handled now (read, not yet fully answered).
  std::size_t in_flight() const { return in_flight_.load(); }
  // Closes every connection and stops the I/O threads.
  void stop();

  // Used by connections.
  std::atomic<std::size_t>& in_flight_counter() { return in_flight_; }
  const HttpOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }

 private:
  void accept();

  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  HttpOptions options_;
  Handler handler_;
  std::vector<std::unique_ptr<boost::asio::io_context>> loops_;  // one per I/O thread
  std::vector<WorkGuard> keep_running_;                            // idle loops wait for work
  std::size_t next_loop_ = 0;                                      // acceptor's thread only
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> in_flight_{0};
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
};

}  // namespace modelpool::server
