// modelpool serve [--config FILE] [--host H] [--port P] [--api-key-file F] ...
//
// Without --config it serves the embedded default: a generated `small` LLM
// named "default" (batched), a sim model named "echo", and the speech models
// "stt" (pocketsphinx, en-us) and "tts" (flite).
//
// Start-up: the server listens at once (health answers while models load);
// a model that fails to load stops the server with exit code 1 and one line
// naming the model and the reason, unless unready models are allowed.
//
// Shutdown: SIGTERM or SIGINT stops accepting and lets requests in flight
// finish until the drain timeout; then what is left is cut off cleanly
// (streams get an error event and [DONE], other requests 503) and the
// process exits within one more second, saying how many were cut off. A
// second SIGTERM or SIGINT exits at once.
#include "cli/serve_command.h"

#include <signal.h>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "cli/access_log.h"
#include "cli/report.h"
#include "modelpool/memory_budget.h"
#include "backends/llama/llm_service.h"
#include "server/api.h"
#include "server/compute_fit.h"
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
  std::string api_key_file;
  std::string log_level;
  bool allow_unready_models = false;
  bool allow_client_shm = false;
  bool no_access_log = false;
  std::string memory_budget;
};

std::string cache_dir() {
  if (const char* c = std::getenv("MODELPOOL_CACHE")) return c;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.cache/modelpool";
}

// The embedded default: the small generated LLM, the echo model, speech.
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
  // Speech from Debian's packages: pocketsphinx's en-us model and flite's
  // voices, warmed up before they serve.
  server::ModelConfig stt;
  stt.name = "stt";
  stt.backend = "stt";
  stt.min_instances = stt.max_instances = 2;
  server::ModelConfig tts;
  tts.name = "tts";
  tts.backend = "tts";
  tts.min_instances = tts.max_instances = 2;
  c.models = {llm, echo, stt, tts};
  return c;
}

// Makes the default model on first run, with progress.
Status ensure_default_model(const std::string& path) {
  if (std::filesystem::exists(path)) return {};
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  spdlog::info("generating the default model (small preset) at {}", path);
  ProgressDisplay display("modelpool: generating the default model:");
  MakeModelOptions o;
  o.preset = "small";
  o.out = path;  // written to PATH.partial, renamed when complete
  o.progress = [&display](double f) { display.update(f); };
  const Status s = make_model(o);
  display.finish();
  return s;
}

// The first line of `path`, trimmed: an API key kept out of the command line.
Result<std::string> read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return not_found_error("API key file '" + path + "' cannot be read");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty()) return invalid_argument_error("API key file '" + path + "' is empty");
  return line;
}

// The API key from, in order: --api-key, --api-key-file, $MODELPOOL_API_KEY,
// [server] api_key_file, [server] api_key.
Result<std::string> api_key_of(const ServeArgs& args, const server::ServerConfig& config) {
  if (!args.api_key.empty()) return args.api_key;
  if (!args.api_key_file.empty()) return read_key_file(args.api_key_file);
  if (const char* env = std::getenv("MODELPOOL_API_KEY"); env != nullptr && *env != '\0') return std::string(env);
  if (!config.api_key_file.empty()) return read_key_file(config.api_key_file);
  return config.api_key;
}

// One line per loaded model: what it is and what it costs.
std::string summary(const server::ServedModel& m) {
  return "model '" + m.name() + "': " + m.model().describe();
}

spdlog::level::level_enum level_of(const std::string& name) {
  if (name == "error") return spdlog::level::err;
  if (name == "warn") return spdlog::level::warn;
  if (name == "debug") return spdlog::level::debug;
  return spdlog::level::info;
}

// Logs `message` and ends the process now. Only flushes: spdlog::shutdown()
// could wait on another thread's logging, or pull the logger from under it.
[[noreturn]] void exit_now(spdlog::logger& log, const std::string& message, int code) {
  log.warn("{}", message);
  log.flush();
  std::_Exit(code);
}

// Ends the process at `deadline` unless destroyed first: the bound on
// shutdown whatever a model or a load is doing.
class ExitWatchdog {
 public:
  ExitWatchdog(Clock::time_point deadline, std::shared_ptr<spdlog::logger> log)
      : thread_([this, deadline, log] {
          std::unique_lock lock(mu_);
          if (cv_.wait_until(lock, deadline, [&] { return disarmed_; })) return;
          exit_now(*log, "shutdown overran its deadline: exiting now", 1);
        }) {}
  ~ExitWatchdog() {
    {
      std::lock_guard lock(mu_);
      disarmed_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

int serve(const ServeArgs& args) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("modelpool", sink);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  spdlog::set_default_logger(logger);
  if (!args.log_level.empty()) spdlog::set_level(level_of(args.log_level));

  server::ServerConfig config;
  if (!args.config.empty()) {
    auto loaded = server::load_config_file(args.config);
    if (!loaded.ok()) {
      std::fprintf(stderr, "modelpool serve: %s\n", loaded.status().message().c_str());
      return 2;
    }
    config = std::move(*loaded);
  }
  if (args.log_level.empty()) spdlog::set_level(level_of(config.log_level));
  if (args.config.empty()) {
    const std::string small = cache_dir() + "/models/small.gguf";
    if (Status s = ensure_default_model(small); !s.ok()) {
      spdlog::error("{}", s.to_string());
      return 1;
    }
    config = default_config(small);
  }
  if (!args.host.empty()) config.host = args.host;
  if (args.port >= 0) config.port = static_cast<std::uint16_t>(args.port);
  if (args.allow_unready_models) config.allow_unready_models = true;
  if (args.no_access_log) config.access_log = false;
  if (args.allow_client_shm) config.allow_client_shm = true;
  if (!args.memory_budget.empty()) {
    auto budget = parse_byte_size(args.memory_budget);
    if (!budget.ok()) {
      std::fprintf(stderr, "modelpool serve: --memory-budget: %s\n", budget.status().message().c_str());
      return 2;
    }
    config.memory_budget = *budget;
  }
  auto key = api_key_of(args, config);
  if (!key.ok()) {
    std::fprintf(stderr, "modelpool serve: %s\n", key.status().message().c_str());
    return 2;
  }

  // Signals are taken by sigwait, never by another thread. SIGUSR1 is the
  // loader saying a model failed.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::shared_ptr<spdlog::logger> access;
  if (config.access_log) {
    spdlog::init_thread_pool(8192, 1);  // the I/O threads only queue the line
    // A sink of its own: a pattern belongs to the sink, not the logger.
    access = std::make_shared<spdlog::async_logger>("access", std::make_shared<spdlog::sinks::stderr_sink_mt>(),
                                                    spdlog::thread_pool(),
                                                    spdlog::async_overflow_policy::overrun_oldest);
    access->set_pattern("%Y-%m-%d %H:%M:%S.%e access %v");
  }

  std::shared_ptr<MemoryBudget> budget;
  if (config.memory_budget > 0) {
    budget = MemoryBudget::create(config.memory_budget);
    spdlog::info("memory budget {}: weights, instances, contexts and caches of all models together; "
                 "growth past it is refused",
                 MemoryBudget::format_bytes(config.memory_budget));
  }
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  if (const std::string w = server::compute_fit_warning(config.models, cores); !w.empty()) spdlog::warn("{}", w);
  server::ModelManager models(config.models, default_catalog(), budget);
  models.set_on_growth_refused([](const std::string& model, const Status& s) {
    spdlog::warn("model '{}': not growing: {}; waiting requests are served by the instances there are",
                 model, s.message());
  });
  models.set_on_instance([](const std::string& model, const PoolProgress& p) {
    const double secs = std::chrono::duration<double>(p.took).count();
    if (p.last_error.ok()) {
      spdlog::info("model '{}': instance {}/{} ready in {:.2f}s", model, p.live, p.target, secs);
    } else {
      spdlog::warn("model '{}': creating an instance failed after {:.2f}s ({} in a row): {}", model, secs,
                   p.failures, p.last_error.to_string());
    }
  });
  server::ApiOptions api_options;
  api_options.api_key = *key;
  api_options.stall_threshold = std::chrono::milliseconds(config.stall_timeout_ms);
  api_options.handler_threads =
      config.handler_threads > 0 ? config.handler_threads : server::default_handler_threads(config.models);
  api_options.allow_client_shm = config.allow_client_shm;
  api_options.max_audio_upload_mb = config.max_audio_upload_mb;
  if (config.allow_client_shm) {
    spdlog::info("client shared memory on: clients may register POSIX shm objects this user can open");
  }
  auto api = std::make_unique<server::Api>(models, api_options);
  server::HttpOptions http_options;
  http_options.host = config.host;
  http_options.port = config.port;
  http_options.max_body_bytes = config.max_body_bytes;
  http_options.body_limit = [&api](const server::HttpRequest& request) {
    return api->body_limit(request);
  };
  http_options.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  http_options.write_timeout = std::chrono::milliseconds(config.write_timeout_ms);
  http_options.stream_buffer_bytes = config.stream_buffer_bytes;
  http_options.io_threads = 2;
  http_options.error_body = server::http_error_body;
  if (access) {
    http_options.on_answered = [access](const server::AccessRecord& r) { access->info(access_line(r)); };
  }
  server::HttpServer http(http_options, [&api](std::shared_ptr<server::Exchange> ex) { api->handle(std::move(ex)); });
  if (Status s = http.start(); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  for (const std::string& address : http.addresses()) spdlog::info("listening on http://{}", address);

  // Models load in the background; readiness turns true when all are warm.
  std::atomic<bool> load_failed{false};
  std::atomic<bool> loading{true};
  std::jthread loader([&] {
    for (const server::ModelConfig& m : config.models) {
      const auto start = Clock::now();
      spdlog::info("loading model '{}' ({})", m.name, m.backend);
      const Status s = models.load(m);
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      if (s.ok()) {
        if (auto served = models.find(m.name)) spdlog::info("{} (ready in {:.1f}s)", summary(*served), secs);
      } else if (config.allow_unready_models) {
        spdlog::error("model '{}' failed to load: {} (serving the others: allow_unready_models)", m.name,
                      s.to_string());
      } else {
        spdlog::error("model '{}' failed to load: {}; stopping (allow_unready_models = true serves the others)",
                      m.name, s.to_string());
        load_failed = true;
        break;
      }
    }
    loading = false;
    if (load_failed) {
      kill(getpid(), SIGUSR1);
    } else if (models.all_ready()) {
      spdlog::info("ready");
    }
  });

  int sig = 0;
  sigwait(&signals, &sig);
  const Clock::time_point signalled = Clock::now();
  const bool fatal = sig == SIGUSR1;
  const auto delay = std::chrono::milliseconds(fatal ? 0 : config.drain_delay_ms);
  const auto drain = std::chrono::milliseconds(fatal ? 0 : config.drain_timeout_ms);
  // A second SIGTERM or SIGINT: out now.
  std::thread([signals, logger] {
    int again = 0;
    sigset_t s = signals;
    sigdelset(&s, SIGUSR1);
    sigwait(&s, &again);
    exit_now(*logger, std::string(again == SIGTERM ? "SIGTERM" : "SIGINT") + " again: exiting now", 128 + again);
  }).detach();
  ExitWatchdog watchdog(signalled + delay + drain + std::chrono::milliseconds(950), logger);
  if (delay.count() > 0) {
    // Readiness fails, everything else goes on: balancers take this replica
    // out by their checks while it still accepts, so no connection of theirs
    // meets a closed listener (or is reset in its accept queue).
    spdlog::info("{}: unready, serving {} ms more before draining (drain_delay_ms)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", delay.count());
    api->set_leaving();
    std::this_thread::sleep_until(signalled + delay);  // a second signal still exits at once
  }
  const Clock::time_point drain_start = signalled + delay;
  if (!fatal) {
    spdlog::info("{}: draining ({} request(s) in flight, up to {} ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 http.in_flight(), drain.count());
  }
  api->set_draining();
  http.begin_drain();
  const auto wait_idle = [&](Clock::time_point until) {
    while (http.in_flight() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  wait_idle(drain_start + drain);
  const std::size_t left = http.in_flight();
  if (left > 0) {
    spdlog::warn("drain timeout: cutting off {} request(s)", left);
    http.cut_off();  // streams end with an error event, the others get 503
    wait_idle(drain_start + drain + std::chrono::milliseconds(800));
  }
  if (loading) exit_now(*logger, "stopped while a model was loading", fatal ? 1 : 0);  // a load cannot be interrupted
  loader.join();
  models.shutdown_all(std::chrono::milliseconds(100));  // wakes anything still waiting
  api->wait_idle();
  const std::uint64_t cut = api->cut_off_requests();
  http.stop();  // no request reaches the Api from here on
  api.reset();
  if (!fatal) logger->info("stopped: {} request(s) cut off at the drain deadline", cut);
  if (access) access->flush();
  logger->flush();
  return fatal ? 1 : 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve models over HTTP: OpenAI /v1, KServe /v2, Prometheus /metrics");
  cmd->add_option("--config", args->config, "Model repository (TOML); default: a generated small LLM and an echo model")
      ->check(CLI::ExistingFile);
  cmd->add_option("--host", args->host, "Address or host name to bind (default 127.0.0.1)");
  cmd->add_option("--port", args->port, "Port (default 8080; 0: any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", args->api_key,
                  "Require 'Authorization: Bearer KEY' (visible in ps: prefer --api-key-file or $MODELPOOL_API_KEY)");
  cmd->add_option("--api-key-file", args->api_key_file, "Read the API key from the first line of this file");
  cmd->add_option("--log-level", args->log_level, "error | warn | info | debug (default info)")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}));
  cmd->add_flag("--allow-unready-models", args->allow_unready_models,
                "Keep serving the other models when one fails to load (default: exit 1)");
  cmd->add_flag("--allow-client-shm", args->allow_client_shm,
                "Serve Triton's system shared memory: clients register their POSIX shm objects for tensors "
                "(default: off, register answers 501)");
  cmd->add_flag("--no-access-log", args->no_access_log, "No access log line per request");
  cmd->add_option("--memory-budget", args->memory_budget,
                  "What all models together may hold (weights, instances, contexts, caches), e.g. 6GiB; "
                  "growth past it is refused (default: [server] memory_budget, else none)");
  cmd->callback([args, exit_code] { *exit_code = serve(*args); });
}

}  // namespace modelpool::cli
