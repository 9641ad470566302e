// FuzzApi: the server's router (Api) with what it routes to, for fuzz
// targets that hand it requests without a socket (src/server/http_fuzz.cc,
// src/server/kserve_fuzz.cc).
//
// It serves one model, "echo" (the sim backend: its inputs come back as its
// outputs), with client shared memory on and two regions registered through
// the API itself: "r0" (4096 bytes) and "r1" (bytes [64, 1088) of the same
// object). A request is answered into a FuzzExchange, synchronously: handle()
// returns once every handler it started has returned.
//
// Every answer is checked: one answer per request, a JSON body (or none)
// where the content type says JSON, and a binary infer answer whose
// Inference-Header-Content-Length lies within its body; a broken answer
// aborts (the fuzzer reports it as a crash).
//
// Inputs must not change what the next input meets: restore() puts back
// what a request may have changed (the model unloaded, regions unregistered
// or added). Single-threaded use only, as libFuzzer calls its target.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "backends/sim/sim_backend.h"
#include "server/api.h"
#include "server/binary_tensors.h"
#include "server/exchange.h"
#include "server/http_server.h"
#include "server/model_manager.h"

namespace modelpool::fuzzing {

[[noreturn]] inline void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz check failed: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// One request and the answer it got.
class FuzzExchange final : public server::Exchange {
 public:
  explicit FuzzExchange(server::HttpRequest request)
      : request_(std::move(request)), body_(Buffer::adopt(std::move(request_.body()))) {
    request_.body().clear();
  }

  const server::HttpRequest& request() const override { return request_; }
  const Buffer& body() const override { return body_; }

  void respond(server::http::status status, std::string body, std::string_view content_type,
               std::initializer_list<std::pair<std::string_view, std::string>> headers) override {
    if (answered_) fail("answered twice", request_.target());
    answered_ = true;
    status_ = static_cast<unsigned>(status);
    // An empty answer says nothing (shm register and unregister: 200 with
    // no body, as Triton answers them).
    if (content_type == "application/json" && !body.empty()) {
      boost::system::error_code ec;
      boost::json::parse(body, ec);
      if (ec) fail("a JSON answer that is not JSON", body);
    }
    for (const auto& [name, value] : headers) {
      if (name == server::kInferenceHeaderContentLength) {
        const unsigned long long n = std::strtoull(value.c_str(), nullptr, 10);
        if (n == 0 || n > body.size()) fail("an infer answer's header length past its body", value);
        boost::system::error_code ec;
        boost::json::parse(std::string_view(body).substr(0, n), ec);
        if (ec) fail("an infer answer's JSON header that is not JSON", body);
      }
    }
  }
  void start_stream(std::string_view) override {
    if (answered_) fail("answered twice", request_.target());
    answered_ = true;
    status_ = 200;
  }
  bool write(std::string) override { return true; }
  void finish() override {}
  std::stop_token stop() const override { return stop_.get_token(); }
  server::StopReason stop_reason() const override { return server::StopReason::kNone; }
  void note(server::AccessNote) override {}

  bool answered() const { return answered_; }
  unsigned status() const { return status_; }

 private:
  server::HttpRequest request_;
  Buffer body_;
  std::stop_source stop_;
  bool answered_ = false;
  unsigned status_ = 0;
};

class FuzzApi {
 public:
  FuzzApi() : manager_(configs(), catalog()) {
    if (Status s = manager_.load("echo"); !s.ok()) fail("loading the echo model", s.message());
    server::ApiOptions options;
    options.handler_threads = 2;
    options.allow_client_shm = true;
    api_ = std::make_unique<server::Api>(manager_, options);
    shm_key_ = "/modelpool_fuzz_" + std::to_string(getpid());
    const int fd = shm_open(shm_key_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, kShmBytes) != 0)
      fail("creating the shared memory object", shm_key_);
    close(fd);
    std::atexit([] { shm_unlink(("/modelpool_fuzz_" + std::to_string(getpid())).c_str()); });
    register_regions();
  }

  server::Api& api() { return *api_; }
  // The options the server reads requests with (serve_command.cc's, with
  // the server's defaults): the router chooses a request's body limit.
  server::HttpOptions http_options() {
    server::HttpOptions o;
    o.body_limit = [this](const server::HttpRequest& request) { return api_->body_limit(request); };
    o.error_body = server::http_error_body;
    return o;
  }

  // Routes `request` and waits for its handlers; the answer's status. The
  // answer must have come.
  unsigned handle(server::HttpRequest request) {
    const bool shm_route = request.target().find("sharedmemory") != std::string_view::npos;
    auto ex = std::make_shared<FuzzExchange>(std::move(request));
    api_->handle(ex);
    api_->wait_idle();
    if (!ex->answered()) fail("a request left unanswered", ex->request().target());
    touched_shm_ = touched_shm_ || shm_route;
    return ex->status();
  }

  // Puts back what the last input may have changed.
  void restore() {
    if (manager_.find("echo") == nullptr) {
      if (Status s = manager_.load("echo"); !s.ok()) fail("reloading the echo model", s.message());
    }
    if (touched_shm_) {
      call(server::http::verb::post, "/v2/systemsharedmemory/unregister", "");
      register_regions();
      touched_shm_ = false;
    }
  }

 private:
  static constexpr std::size_t kShmBytes = 4096;

  static std::vector<server::ModelConfig> configs() {
    server::ModelConfig echo;
    echo.name = "echo";
    echo.backend = "sim";
    echo.max_queue = 64;
    echo.timeout_ms = 10000;
    return {echo};
  }
  static const BackendCatalog& catalog() {
    static const BackendCatalog* catalog = [] {
      auto* c = new BackendCatalog();
      c->add(std::make_shared<SimBackend>());
      return c;
    }();
    return *catalog;
  }

  unsigned call(server::http::verb method, std::string target, std::string body) {
    server::HttpRequest req(method, target, 11);
    req.body() = std::move(body);
    auto ex = std::make_shared<FuzzExchange>(std::move(req));
    api_->handle(ex);
    api_->wait_idle();
    return ex->status();
  }

  void register_regions() {
    const std::string key = "\"key\": \"" + shm_key_ + "\"";
    if (call(server::http::verb::post, "/v2/systemsharedmemory/region/r0/register",
             "{" + key + ", \"byte_size\": 4096}") != 200 ||
        call(server::http::verb::post, "/v2/systemsharedmemory/region/r1/register",
             "{" + key + ", \"offset\": 64, \"byte_size\": 1024}") != 200) {
      fail("registering the shared memory regions", shm_key_);
    }
  }

  server::ModelManager manager_;
  std::unique_ptr<server::Api> api_;
  std::string shm_key_;
  bool touched_shm_ = false;
};

}  // namespace modelpool::fuzzing
