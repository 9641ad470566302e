#include "server/http_server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>

#include "modelpool/pool.h"  // Clock

namespace modelpool::server {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_method).category();
}

// The 413 for a body over `limit`.
Refusal body_refusal(const BodyLimit& limit) {
  return {http::status::payload_too_large,
          limit.refusal.empty() ? "request body over the limit of " + std::to_string(limit.bytes) + " bytes"
                                : limit.refusal};
}

}  // namespace

void prepare_request_parser(RequestParser& parser, const HttpOptions& options) {
  // The body's limit depends on the request (HttpOptions::body_limit): it
  // is set once the headers are read, and checked against Content-Length.
  parser.body_limit(boost::none);
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
}

std::optional<Refusal> check_request_head(RequestParser& parser, const HttpOptions& options, BodyLimit* limit) {
  const HttpRequest& req = parser.get();
  *limit = options.body_limit ? options.body_limit(req) : BodyLimit{};
  if (limit->bytes == 0) limit->bytes = options.max_body_bytes;
  if (auto length = parser.content_length(); length && *length > limit->bytes) return body_refusal(*limit);
  parser.body_limit(limit->bytes);  // a chunked body counts its chunks against it
  if (auto te = req.find(http::field::transfer_encoding); te != req.end() && !iequals(trim(te->value()), "chunked")) {
    return Refusal{http::status::not_implemented,
                   "Transfer-Encoding '" + std::string(te->value()) + "' is not supported (only chunked)"};
  }
  if (auto expect = req.find(http::field::expect); expect != req.end() && req.version() >= 11 &&
                                                    !iequals(trim(expect->value()), "100-continue")) {
    return Refusal{http::status::expectation_failed,
                   "Expect '" + std::string(expect->value()) + "' is not supported (only 100-continue)"};
  }
  return std::nullopt;
}

std::optional<Refusal> refusal_for_read_error(const beast::error_code& ec, const HttpOptions& options,
                                              const BodyLimit& limit) {
  if (ec == http::error::body_limit) return body_refusal(limit);
  if (ec == http::error::header_limit) {
    return Refusal{http::status::request_header_fields_too_large,
                   "request headers over the limit of " + std::to_string(options.max_header_bytes) + " bytes"};
  }
  if (ec == http::error::bad_transfer_encoding) {
    return Refusal{http::status::not_implemented, "unsupported Transfer-Encoding (only chunked)"};
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || !is_parse_error(ec)) {
    return std::nullopt;
  }
  return Refusal{http::status::bad_request, "malformed request: " + ec.message()};
}

namespace detail {
namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Whether a request stopped for `reason` gets no more of its answer.
bool output_dropped(StopReason reason) {
  return reason == StopReason::kClientGone || reason == StopReason::kSlowClient;
}

}  // namespace

class Call;

// One connection. Lives as long as a read, a write or a Call holds it. All
// its members are used on its I/O thread only, except where said.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) client_ = peer.address().to_string();
  }
  ~Connection() { server_.remove(this); }

  void start() {
    server_.add(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }
  net::any_io_executor executor() { return stream_.get_executor(); }

  // ---- called by Call (from any thread; they post here)
  void respond(std::shared_ptr<Call> call, std::shared_ptr<http::response<http::string_body>> res);
  void start_stream(std::shared_ptr<Call> call, http::status status, std::string content_type);
  void write(std::string data);
  void finish();
  // The stream of `call` overflowed: drop what is queued and abandon the
  // write in progress; the connection closes once the handler finishes.
  void abort_stream(std::shared_ptr<Call> call);

  // ---- drain (on this connection's I/O thread)
  void close_if_idle() {
    if (call_ == nullptr && buffer_.size() == 0 && !(parser_ && parser_->got_some())) close();
  }
  void cut_off();
  // Only after every loop has stopped: drops the request in flight, whose
  // answer will never be written. The Call and this Connection hold each
  // other; without this neither is freed when the loops' pending handlers
  // (the other owners) are destroyed.
  void abandon() { call_.reset(); }

 private:
  void read();
  void on_header(beast::error_code ec);
  void read_body();
  void on_read(beast::error_code ec);
  void on_error(beast::error_code ec);
  void refuse(http::status status, std::string_view message);
  void watch();
  void on_watch(beast::error_code ec, std::size_t n);
  void pump();
  // Bounds the write about to start by the write timeout (a read pending
  // keeps its own deadline).
  void arm_write_timeout() { stream_.expires_after(server_.options().write_timeout); }
  void answered(beast::error_code ec, bool close_after);
  void close();
  void linger();
  bool keep_alive() const;

  beast::tcp_stream stream_;
  HttpServer& server_;
  std::string client_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  BodyLimit limit_;             // of the request being read
  std::shared_ptr<Call> call_;  // the request in flight, if any
  std::deque<std::string> chunks_;
  bool streaming_ = false;      // the answer is a stream
  bool chunked_ = false;        // ... with chunked coding (HTTP/1.1)
  bool writing_ = false;
  bool finishing_ = false;
  bool answering_ = false;      // the answer has begun
  bool closing_ = false;        // close after this answer
  bool closed_ = false;
  bool read_pending_ = false;   // a read (request or watch) is pending on the socket
  bool watching_ = false;       // ... and it is the watch of a request in flight
  bool resume_read_ = false;    // read the next request once the watch returns
  std::array<char, 512> scratch_{};  // lingering close discards here
  std::chrono::steady_clock::time_point linger_until_;
};

// One request and its answer: what handlers hold.
class Call final : public Exchange, public std::enable_shared_from_this<Call> {
 public:
  Call(std::shared_ptr<Connection> connection, HttpRequest request, std::size_t stream_buffer_bytes)
      : connection_(std::move(connection)),
        request_(std::move(request)),
        body_(take_body(request_)),
        started_(Clock::now()),
        stream_buffer_bytes_(stream_buffer_bytes) {}

  const HttpRequest& request() const override { return request_; }
  const Buffer& body() const override { return body_; }

  void respond(http::status status, std::string body, std::string_view content_type,
               std::initializer_list<std::pair<std::string_view, std::string>> headers) override {
    auto res = std::make_shared<http::response<http::string_body>>(status, request_.version());
    res->set(http::field::server, "modelpool");
    res->set(http::field::content_type, content_type);
    for (const auto& [k, v] : headers) res->set(k, v);
    res->body() = std::move(body);
    res->prepare_payload();
    if (request_.method() == http::verb::head) res->body().clear();  // Content-Length stays
    connection_->respond(shared_from_this(), std::move(res));
  }

  void start_stream(std::string_view content_type) override {
    connection_->start_stream(shared_from_this(), http::status::ok, std::string(content_type));
  }

  bool write(std::string data) override {
    if (output_dropped(reason_.load())) return false;
    // Counted from here until the socket took it: the posted closure, the
    // connection's queue and the write in progress all hold it.
    const std::size_t n = data.size();
    const std::size_t before = queued_bytes_.fetch_add(n);
    if (before > 0 && before + n > stream_buffer_bytes_) {
      queued_bytes_ -= n;
      fire(StopReason::kSlowClient);
      connection_->abort_stream(shared_from_this());
      return false;
    }
    connection_->write(std::move(data));
    return true;
  }
  // `n` bytes of the stream reached the socket.
  void written(std::size_t n) { queued_bytes_ -= n; }

  void finish() override { connection_->finish(); }

  std::stop_token stop() const override { return stop_.get_token(); }
  StopReason stop_reason() const override { return reason_.load(); }
  void note(AccessNote note) override { note_ = std::move(note); }

  // The first reason wins.
  void fire(StopReason reason) {
    StopReason none = StopReason::kNone;
    if (reason_.compare_exchange_strong(none, reason)) stop_.request_stop();
  }

  Clock::time_point started() const { return started_; }
  const AccessNote& access_note() const { return note_; }  // after the answer
  unsigned status = 0;  // the answer's status; set on the I/O thread

 private:
  // The body's string moves into a shared owner: one allocation, no copy.
  static Buffer take_body(HttpRequest& request) {
    Buffer body = Buffer::adopt(std::move(request.body()));
    request.body().clear();
    return body;
  }

  std::shared_ptr<Connection> connection_;
  HttpRequest request_;  // its body moved to body_
  Buffer body_;
  Clock::time_point started_;
  const std::size_t stream_buffer_bytes_;
  std::atomic<std::size_t> queued_bytes_{0};  // written, not yet taken by the socket
  std::stop_source stop_;
  std::atomic<StopReason> reason_{StopReason::kNone};
  AccessNote note_;  // written by the handler before its answer is posted
};

void Connection::read() {
  if (closed_) return;
  parser_.emplace();
  prepare_request_parser(*parser_, server_.options());
  stream_.expires_after(server_.options().read_timeout);
  read_pending_ = true;
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void Connection::on_header(beast::error_code ec) {
  read_pending_ = false;
  if (closed_) return linger();
  if (ec) return on_error(ec);
  if (auto refusal = check_request_head(*parser_, server_.options(), &limit_)) {
    return refuse(refusal->status, refusal->message);
  }
  const HttpRequest& req = parser_->get();
  if (req.version() >= 11 && req.find(http::field::expect) != req.end() && !parser_->is_done()) {
    return net::async_write(stream_, net::buffer(kContinue),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->read_body();
                            });
  }
  if (parser_->is_done()) return on_read({});
  read_body();
}

void Connection::read_body() {
  read_pending_ = true;
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void Connection::on_error(beast::error_code ec) {
  if (auto refusal = refusal_for_read_error(ec, server_.options(), limit_)) {
    return refuse(refusal->status, refusal->message);
  }
  close();  // the peer closed, timed out or reset: nothing to answer
}

void Connection::on_read(beast::error_code ec) {
  read_pending_ = false;
  if (closed_) return linger();
  if (ec) return on_error(ec);
  stream_.expires_never();  // a generation may take long; disconnects are watched instead
  call_ = std::make_shared<Call>(shared_from_this(), parser_->release(),
                                 server_.options().stream_buffer_bytes);
  parser_.reset();
  ++server_.in_flight_counter();
  answering_ = false;
  streaming_ = false;
  server_.handler()(call_);
  // A request answered inline is done with; one handed to another thread is
  // watched for a disconnect.
  if (!answering_ && call_ != nullptr) watch();
}

// A malformed or refused request: answer and close.
void Connection::refuse(http::status status, std::string_view message) {
  closing_ = true;
  answering_ = false;
  streaming_ = false;
  HttpRequest req;
  req.version(11);
  if (parser_ && parser_->got_some()) {  // the request line is parsed before the fields
    const HttpRequest& partial = parser_->get();
    if (partial.method() != http::verb::unknown) req.method(partial.method());
    req.target(partial.target());
    req.version(partial.version() == 10 ? 10 : 11);
  }
  parser_.reset();
  stream_.expires_never();
  const std::string target(req.target());
  call_ = std::make_shared<Call>(shared_from_this(), std::move(req), server_.options().stream_buffer_bytes);
  ++server_.in_flight_counter();
  const int code = static_cast<int>(status);
  const auto& make_body = server_.options().error_body;
  call_->respond(status, make_body ? make_body(target, message, code) : std::string(message),
                 "application/json", {});
}

bool Connection::keep_alive() const {
  return call_ != nullptr && call_->request().keep_alive() && !closing_ && !server_.draining();
}

void Connection::respond(std::shared_ptr<Call> call, std::shared_ptr<http::response<http::string_body>> res) {
  net::dispatch(stream_.get_executor(), [self = shared_from_this(), call = std::move(call), res = std::move(res)] {
    if (self->call_ != call || self->answering_) return;  // not this request's turn, or answered twice
    self->answering_ = true;
    call->status = res->result_int();
    res->keep_alive(self->keep_alive());
    self->arm_write_timeout();
    http::async_write(self->stream_, *res, [self, res](beast::error_code ec, std::size_t) {
      self->answered(ec, !res->keep_alive());
    });
  });
}

void Connection::start_stream(std::shared_ptr<Call> call, http::status status, std::string content_type) {
  net::dispatch(stream_.get_executor(), [self = shared_from_this(), call = std::move(call), status,
                                         content_type = std::move(content_type)] {
    if (self->call_ != call || self->answering_) return;
    self->answering_ = true;
    self->streaming_ = true;
    call->status = static_cast<unsigned>(status);
    const HttpRequest& req = call->request();
    // HTTP/1.0 knows no chunked coding: the stream ends when the connection does.
    self->chunked_ = req.version() >= 11;
    if (!self->chunked_) self->closing_ = true;
    auto res = std::make_shared<http::response<http::empty_body>>(status, req.version());
    res->set(http::field::server, "modelpool");
    res->set(http::field::content_type, content_type);
    res->set(http::field::cache_control, "no-cache");
    res->chunked(self->chunked_);
    res->keep_alive(self->keep_alive());
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    self->writing_ = true;
    self->arm_write_timeout();
    http::async_write_header(self->stream_, *sr, [self, res, sr](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec && self->call_) self->call_->fire(StopReason::kClientGone);
      self->pump();
    });
  });
}

void Connection::write(std::string data) {
  net::dispatch(stream_.get_executor(), [self = shared_from_this(), d = std::move(data)]() mutable {
    if (!self->streaming_) return;
    self->chunks_.push_back(std::move(d));
    self->pump();
  });
}

void Connection::abort_stream(std::shared_ptr<Call> call) {
  net::dispatch(stream_.get_executor(), [self = shared_from_this(), call = std::move(call)] {
    if (self->call_ != call || !self->streaming_) return;
    self->chunks_.clear();
    beast::error_code ignored;
    self->stream_.socket().cancel(ignored);  // the stalled write returns, and the watch
    self->pump();
  });
}

void Connection::finish() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if (!self->streaming_) return;
    self->finishing_ = true;
    self->pump();
  });
}

void Connection::pump() {
  if (writing_ || call_ == nullptr) return;
  if (output_dropped(call_->stop_reason())) {
    chunks_.clear();
    if (finishing_) {
      finishing_ = false;
      answered(net::error::connection_reset, true);
    }
    return;
  }
  if (!chunks_.empty()) {
    auto data = std::make_shared<std::string>(std::move(chunks_.front()));
    chunks_.pop_front();
    writing_ = true;
    arm_write_timeout();
    auto done = [self = shared_from_this(), call = call_, data](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      call->written(data->size());
      if (ec && self->call_) self->call_->fire(StopReason::kClientGone);
      self->pump();
    };
    if (chunked_) {
      net::async_write(stream_, http::make_chunk(net::buffer(*data)), std::move(done));
    } else {
      net::async_write(stream_, net::buffer(*data), std::move(done));
    }
    return;
  }
  if (finishing_) {
    finishing_ = false;
    if (!chunked_) return answered({}, true);
    writing_ = true;
    arm_write_timeout();
    net::async_write(stream_, http::make_chunk_last(), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      self->answered(ec, !self->keep_alive());
    });
  }
}

// While a request is in flight, read what the client sends: keep it for the
// next request (pipelining), and take an end of stream or an error as the
// client leaving. Bounded: a client that sends more than a request's worth
// ahead is not read further (nor watched) until its answer is written.
void Connection::watch() {
  const std::size_t cap = server_.options().max_header_bytes + server_.options().max_body_bytes;
  if (watching_ || closed_ || buffer_.size() >= cap) return;
  watching_ = read_pending_ = true;
  stream_.expires_never();  // a deadline armed for a write while no read was pending
  stream_.async_read_some(buffer_.prepare(std::min<std::size_t>(16384, cap - buffer_.size())),
                          [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_watch(ec, n); });
}

void Connection::on_watch(beast::error_code ec, std::size_t n) {
  watching_ = read_pending_ = false;
  buffer_.commit(n);
  if (closed_) return linger();
  if (resume_read_) {
    resume_read_ = false;
    return read();
  }
  if (call_ == nullptr || ec == net::error::operation_aborted) return;
  if (ec) return call_->fire(StopReason::kClientGone);  // end of stream, reset
  watch();
}

void Connection::cut_off() {
  if (call_ != nullptr) call_->fire(StopReason::kShutdown);
}

// The answer is written (or failed): log it, count it and read the next request.
void Connection::answered(beast::error_code ec, bool close_after) {
  std::shared_ptr<Call> call = std::move(call_);
  if (call == nullptr) return;
  if (const auto& log = server_.options().on_answered) {
    const HttpRequest& req = call->request();
    AccessRecord r;
    r.client = client_;
    r.method = req.method_string();
    r.target = req.target();
    r.version = req.version();
    r.status = call->status;
    r.duration_s = std::chrono::duration<double>(Clock::now() - call->started()).count();
    r.note = &call->access_note();
    r.completed = !ec;
    log(r);
  }
  --server_.in_flight_counter();
  answering_ = false;
  streaming_ = false;
  chunks_.clear();
  if (ec || close_after || closing_) return close();
  if (watching_) {
    resume_read_ = true;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // the watch returns, then reads on
    return;
  }
  read();
}

// Half-closes, then reads and discards what the client still sends for a
// moment before closing: closing with unread data would reset the
// connection and could destroy the answer just written.
void Connection::close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  // Set in linger(): a timer does not change under a read already pending.
  linger_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  if (read_pending_) {
    stream_.socket().cancel(ignored);  // its handler lingers: one read at a time
    return;
  }
  linger();
}

void Connection::linger() {
  stream_.expires_at(linger_until_);
  stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (!ec) return self->linger();
    self->stream_.close();
  });
}

}  // namespace detail

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
    : options_(std::move(options)), handler_(std::move(handler)), loops_(make_loops(options_.io_threads)) {
  for (auto& loop : loops_) keep_running_.push_back(net::make_work_guard(*loop));
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  beast::error_code ec;
  std::vector<tcp::endpoint> endpoints;
  if (const auto address = net::ip::make_address(options_.host, ec); !ec) {
    endpoints.emplace_back(address, options_.port);
  } else {
    tcp::resolver resolver(*loops_.front());
    const auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                          tcp::resolver::passive | tcp::resolver::address_configured, ec);
    if (ec || results.empty()) {
      return invalid_argument_error("--host '" + options_.host + "': does not resolve to an address" +
                                    (ec ? " (" + ec.message() + ")" : ""));
    }
    for (const auto& r : results) {
      if (std::find(endpoints.begin(), endpoints.end(), r.endpoint()) == endpoints.end()) {
        endpoints.push_back(r.endpoint());
      }
    }
  }
  std::uint16_t port = options_.port;
  for (tcp::endpoint endpoint : endpoints) {
    if (port != 0) endpoint.port(port);  // port 0: the first address's free port for all
    auto acceptor = std::make_unique<tcp::acceptor>(*loops_.front());
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor->set_option(net::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return internal_error("cannot listen on " + endpoint.address().to_string() + ":" +
                            std::to_string(endpoint.port()) + ": " + ec.message());
    }
    port = acceptor->local_endpoint().port();
    const bool v6 = endpoint.address().is_v6();
    addresses_.push_back((v6 ? "[" : "") + endpoint.address().to_string() + (v6 ? "]" : "") + ":" +
                         std::to_string(port));
    acceptors_.push_back(std::move(acceptor));
  }
  port_ = port;
  for (auto& a : acceptors_) accept(*a);
  for (auto& loop : loops_) {
    threads_.emplace_back([loop = loop.get()] { loop->run(); });
  }
  return {};
}

void HttpServer::accept(tcp::acceptor& acceptor) {
  net::io_context& loop = *loops_[next_loop_++ % loops_.size()];
  acceptor.async_accept(loop, [this, &acceptor](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // acceptor closed
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<detail::Connection>(std::move(socket), *this)->start();
    accept(acceptor);
  });
}

void HttpServer::add(detail::Connection* c, std::weak_ptr<detail::Connection> weak) {
  std::lock_guard lock(connections_mu_);
  connections_.emplace(c, std::move(weak));
}

void HttpServer::remove(detail::Connection* c) {
  std::lock_guard lock(connections_mu_);
  connections_.erase(c);
}

void HttpServer::for_each_connection(const std::function<void(detail::Connection&)>& fn) {
  std::vector<std::shared_ptr<detail::Connection>> live;
  {
    std::lock_guard lock(connections_mu_);
    for (auto& [raw, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) net::dispatch(c->executor(), [c, fn] { fn(*c); });
}

void HttpServer::begin_drain() {
  if (draining_.exchange(true)) return;
  net::post(*loops_.front(), [this] {
    for (auto& a : acceptors_) {
      beast::error_code ec;
      a->close(ec);
    }
  });
  for_each_connection([](detail::Connection& c) { c.close_if_idle(); });
}

void HttpServer::cut_off() {
  for_each_connection([](detail::Connection& c) { c.cut_off(); });
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  for (auto& loop : loops_) loop->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // No loop runs now. A request whose answer was still being written (its
  // client may have read it and gone) would keep its Connection alive.
  std::vector<std::shared_ptr<detail::Connection>> live;
  {
    std::lock_guard lock(connections_mu_);
    for (auto& [raw, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->abandon();
}

}  // namespace modelpool::server
