// modelpool serve [--config FILE] [--host H] [--port P] [--api-key KEY]
//
// Without --config it serves the embedded default: a generated `small` LLM
// named "default" (batched) and a sim model named "echo". SIGTERM or SIGINT
// stops accepting, lets requests in flight finish within the drain timeout
// and exits 0.
#include "cli/serve_command.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/report.h"
#include "modelpool/llm.h"
#include "server/api.h"
#include "server/config.h"
#include "server/http_server.h"
#include "server/model_manager.h"

namespace modelpool::cli {
namespace {

struct ServeArgs {
  std::string config;
  std::string host;
  int port = -1;
  std::string api_key;
};

std::string cache_dir() {
  if (const char* c = std::getenv("MODELPOOL_CACHE")) return c;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.cache/modelpool";
}

// The embedded default: the small generated LLM and the echo model.
server::ServerConfig default_config(const std::string& small_path) {
  server::ServerConfig c;
  server::ModelConfig llm;
  llm.name = "default";
  llm.backend = "llama";
  llm.path = small_path;
  llm.mode = "batched";
  llm.slots = 8;
  llm.context = 8 * 2048;
  llm.max_queue = 256;
  server::ModelConfig echo;
  echo.name = "echo";
  echo.backend = "sim";
  echo.min_instances = echo.max_instances = 4;
  echo.max_queue = 1024;
  echo.options = {{"service_ms", "0"}};
  c.models = {llm, echo};
  return c;
}

// Makes the default model on first run, with progress.
Status ensure_default_model(const std::string& path) {
  if (std::filesystem::exists(path)) return {};
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::fprintf(stderr, "modelpool: generating the default model (small preset) at %s\n", path.c_str());
  ProgressDisplay display("modelpool: generating the default model:");
  MakeModelOptions o;
  o.preset = "small";
  o.out = path;  // written to PATH.partial, renamed when complete
  o.progress = [&display](double f) { display.update(f); };
  const Status s = make_model(o);
  display.finish();
  return s;
}

int serve(const ServeArgs& args) {
  server::ServerConfig config;
  if (!args.config.empty()) {
    auto loaded = server::load_config_file(args.config);
    if (!loaded.ok()) {
      std::fprintf(stderr, "modelpool serve: %s\n", loaded.status().message().c_str());
      return 2;
    }
    config = std::move(*loaded);
  } else {
    const std::string small = cache_dir() + "/models/small.gguf";
    if (Status s = ensure_default_model(small); !s.ok()) {
      std::fprintf(stderr, "modelpool serve: %s\n", s.to_string().c_str());
      return 1;
    }
    config = default_config(small);
  }
  if (!args.host.empty()) config.host = args.host;
  if (args.port >= 0) config.port = static_cast<std::uint16_t>(args.port);
  if (!args.api_key.empty()) config.api_key = args.api_key;

  // Signals are taken by sigwait below, never by another thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ModelManager models(config.models);
  server::ApiOptions api_options;
  api_options.api_key = config.api_key;
  api_options.stall_threshold = std::chrono::milliseconds(config.stall_timeout_ms);
  auto api = std::make_unique<server::Api>(models, api_options);
  server::HttpOptions http_options;
  http_options.host = config.host;
  http_options.port = config.port;
  http_options.max_body_bytes = config.max_body_bytes;
  http_options.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  http_options.io_threads = 2;
  server::HttpServer http(http_options, [&api](std::shared_ptr<server::Exchange> ex) { api->handle(std::move(ex)); });
  if (Status s = http.start(); !s.ok()) {
    std::fprintf(stderr, "modelpool serve: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "modelpool: listening on http://%s:%u\n", config.host.c_str(), http.port());
  std::fflush(stderr);

  // Models load in the background; readiness turns true when all are warm.
  std::jthread loader([&] {
    for (const server::ModelConfig& m : config.models) {
      const auto start = Clock::now();
      std::fprintf(stderr, "modelpool: loading model '%s' (%s)\n", m.name.c_str(), m.backend.c_str());
      Status s = models.load(m);
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      if (s.ok()) {
        std::fprintf(stderr, "modelpool: model '%s' ready in %.1fs\n", m.name.c_str(), secs);
      } else {
        std::fprintf(stderr, "modelpool: model '%s' failed to load: %s\n", m.name.c_str(), s.to_string().c_str());
      }
    }
    if (models.all_ready()) std::fprintf(stderr, "modelpool: ready\n");
  });

  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "modelpool: %s: draining (up to %lld ms)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
               static_cast<long long>(config.drain_timeout_ms));
  api->set_draining();
  http.stop_accepting();
  const auto until = Clock::now() + std::chrono::milliseconds(config.drain_timeout_ms);
  while (http.in_flight() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const std::size_t cut = http.in_flight();
  loader.join();
  models.shutdown_all(std::chrono::milliseconds(1000));  // wakes anything still waiting
  api.reset();  // waits for handler threads
  http.stop();
  std::fprintf(stderr, "modelpool: stopped (%zu request(s) cut off after the drain timeout)\n", cut);
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve models over HTTP: OpenAI /v1, KServe /v2, Prometheus /metrics");
  cmd->add_option("--config", args->config, "Model repository (TOML); default: a generated small LLM and an echo model")
      ->check(CLI::ExistingFile);
  cmd->add_option("--host", args->host, "Address to bind (default 127.0.0.1)");
  cmd->add_option("--port", args->port, "Port (default 8080; 0: any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", args->api_key, "Require 'Authorization: Bearer KEY' (default: none)");
  cmd->callback([args, exit_code] { *exit_code = serve(*args); });
}

}  // namespace modelpool::cli
