#include "server/http_server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <deque>
#include <sys/socket.h>

namespace modelpool::server {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

ErrorFormat error_format_of(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/v2" || path.starts_with("/v2/") ? ErrorFormat::kKServe : ErrorFormat::kOpenAI;
}

std::string error_body(ErrorFormat format, std::string_view message, std::string_view type, int code) {
  if (format == ErrorFormat::kKServe) return boost::json::serialize(boost::json::object{{"error", message}});
  boost::json::object inner{{"message", message}, {"type", type}, {"code", code}};
  return boost::json::serialize(boost::json::object{{"error", std::move(inner)}});
}

namespace {

// One connection. Lives as long as a read, a write or an Exchange holds it.
class Connection : public Exchange, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, HttpServer& server)
      : stream_(std::move(socket)), server_(server) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

  // ---- Exchange
  const HttpRequest& request() const override { return request_; }

  void respond(http::status status, std::string body, std::string_view content_type,
               std::initializer_list<std::pair<std::string_view, std::string>> headers) override {
    auto res = std::make_shared<http::response<http::string_body>>(status, request_.version());
    res->set(http::field::server, "modelpool");
    res->set(http::field::content_type, content_type);
    for (const auto& [k, v] : headers) res->set(k, v);
    res->keep_alive(request_.keep_alive() && !closing_);
    res->body() = std::move(body);
    res->prepare_payload();
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), res] {
      self->answering_ = true;
      http::async_write(self->stream_, *res,
                        [self, res](beast::error_code ec, std::size_t) { self->answered(ec, !res->keep_alive()); });
    });
  }

  void start_stream(std::string_view content_type) override {
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, request_.version());
    res->set(http::field::server, "modelpool");
    res->set(http::field::content_type, content_type);
    res->set(http::field::cache_control, "no-cache");
    res->chunked(true);
    res->keep_alive(request_.keep_alive());
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), res, sr] {
      self->answering_ = true;
      self->writing_ = true;
      http::async_write_header(self->stream_, *sr, [self, res, sr](beast::error_code ec, std::size_t) {
        self->writing_ = false;
        if (ec) return self->gone();
        self->pump();
      });
    });
  }

  bool write(std::string data) override {
    if (gone_.stop_requested()) return false;
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), d = std::move(data)]() mutable {
      self->chunks_.push_back(std::move(d));
      self->pump();
    });
    return true;
  }

  void finish() override {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->finishing_ = true;
      self->pump();
    });
  }

  std::stop_token client_gone() const override { return gone_.get_token(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options().max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options().max_header_bytes));
    stream_.expires_after(server_.options().read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) return refuse(http::status::payload_too_large, "request body over the limit of " + std::to_string(server_.options().max_body_bytes) + " bytes", 413);
    if (ec == http::error::header_limit) return refuse(http::status::request_header_fields_too_large, "request headers over the limit", 431);
    if (ec == http::error::end_of_stream || ec) return close();  // includes timeouts
    request_ = parser_->release();
    ++requests_;
    stream_.expires_never();  // a generation may take long; disconnects are watched instead
    ++server_.in_flight_counter();
    counted_ = true;
    answering_ = false;
    server_.handler()(shared_from_this());
    // A request answered inline is done with; one handed to another thread
    // is watched (arming the watch costs a system call).
    if (!answering_) watch_disconnect();
  }

  // A malformed or oversized request: answer and close.
  void refuse(http::status status, const std::string& message, int code) {
    // The target, when the request line got read, says whose error format.
    const ErrorFormat format = error_format_of(parser_->get().target());
    closing_ = true;
    request_ = {};
    request_.version(11);
    ++server_.in_flight_counter();
    counted_ = true;
    respond(status, error_body(format, message, "invalid_request_error", code), "application/json", {});
  }

  // Fires gone_ when the peer closes while its request is in flight. A wait
  // that completes after its request was answered (its cancel came too late)
  // belongs to an older request and is ignored; a readable socket with data
  // (a pipelined request) or nothing to read yet is not a disconnect.
  void watch_disconnect() {
    const std::uint64_t watched = requests_;
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(), watched](beast::error_code ec) {
      if (ec || !self->counted_ || self->requests_ != watched) return;
      // MSG_DONTWAIT: Asio's own receive() polls until data arrives on a
      // socket in blocking mode, which would stall this I/O thread (and its
      // response) after a spurious wake.
      char byte;
      const ssize_t n = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return self->watch_disconnect();
      if (n <= 0) self->gone_.request_stop();
    });
  }

  void pump() {
    if (writing_) return;
    if (gone_.stop_requested()) {
      chunks_.clear();
      if (finishing_) answered(net::error::connection_reset, true);
      return;
    }
    if (!chunks_.empty()) {
      auto data = std::make_shared<std::string>(std::move(chunks_.front()));
      chunks_.pop_front();
      writing_ = true;
      net::async_write(stream_, http::make_chunk(net::buffer(*data)),
                       [self = shared_from_this(), data](beast::error_code ec, std::size_t) {
                         self->writing_ = false;
                         if (ec) self->gone();
                         self->pump();
                       });
      return;
    }
    if (finishing_) {
      finishing_ = false;
      writing_ = true;
      net::async_write(stream_, http::make_chunk_last(), [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->writing_ = false;
        self->answered(ec, !self->request_.keep_alive());
      });
    }
  }

  void gone() { gone_.request_stop(); }

  // The answer is written (or failed): count it and read the next request.
  void answered(beast::error_code ec, bool close_after) {
    if (counted_) {
      counted_ = false;
      --server_.in_flight_counter();
    }
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // ends the disconnect watch
    if (ec || close_after || closing_) return close();
    gone_ = std::stop_source();
    read();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  HttpServer& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  std::stop_source gone_;
  std::deque<std::string> chunks_;  // I/O thread only
  bool writing_ = false;            // I/O thread only
  bool finishing_ = false;          // I/O thread only
  bool answering_ = false;          // I/O thread only: the answer has begun
  bool closing_ = false;
  bool counted_ = false;
  std::uint64_t requests_ = 0;  // requests read on this connection; I/O thread only
};

}  // namespace

namespace {
std::vector<std::unique_ptr<net::io_context>> make_loops(std::size_t n) {
  std::vector<std::unique_ptr<net::io_context>> loops;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, n); ++i) {
    loops.push_back(std::make_unique<net::io_context>(1));  // one thread runs each
  }
  return loops;
}
}  // namespace

HttpServer::HttpServer(HttpOptions options, Handler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      loops_(make_loops(options_.io_threads)),
      acceptor_(loops_.front()->get_executor()) {
  for (auto& loop : loops_) keep_running_.push_back(net::make_work_guard(*loop));
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec) return invalid_argument_error("--host '" + options_.host + "': not an IP address");
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return internal_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                          ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  accept();
  for (auto& loop : loops_) {
    threads_.emplace_back([loop = loop.get()] { loop->run(); });
  }
  return {};
}

void HttpServer::accept() {
  net::io_context& loop = *loops_[next_loop_++ % loops_.size()];
  acceptor_.async_accept(loop, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // acceptor closed
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Connection>(std::move(socket), *this)->start();
    accept();
  });
}

void HttpServer::stop_accepting() {
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  for (auto& loop : loops_) loop->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace modelpool::server
