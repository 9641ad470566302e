// Server configuration: the model repository (TOML) and the listener.
//
//   [server]                      # all optional
//   host = "127.0.0.1"
//   port = 8080
//   api_key = "secret"            # or --api-key; empty: no authentication
//   api_key_file = "/run/key"     # or --api-key-file: the key is the file's first line
//   allow_unready_models = false  # true: a model that fails to load does not stop the server
//   access_log = true             # one line per request on stderr
//   log_level = "info"            # error | warn | info | debug
//   max_body_bytes = 1048576
//   max_audio_upload_mb = 25      # a transcription's body (the audio file and its
//                                 # form fields) in MiB; OpenAI's limit is 25 MB
//   read_timeout_ms = 30000
//   drain_timeout_ms = 10000
//   drain_delay_ms = 0            # after SIGTERM: unready but serving this long, then drain
//   stall_timeout_ms = 10000      # a decoding loop with work that has not
//                                 # stepped for this long: not live (503)
//   handler_threads = 300         # most threads running blocking handlers;
//                                 # default: default_handler_threads(models)
//   stream_buffer_bytes = 1048576 # a stream's bytes queued for a client that
//                                 # does not read; past it the stream is cancelled
//   write_timeout_ms = 30000      # a write the client does not take for this
//                                 # long ends the connection
//   allow_client_shm = false      # or --allow-client-shm: serve Triton's system
//                                 # shared memory (clients register their POSIX
//                                 # shm objects; the server maps them)
//   memory_budget = "6GiB"        # or --memory-budget: what all models together may
//                                 # hold (weights, instances, contexts, caches);
//                                 # growth past it is refused. Default: none
//
//   [[model]]
//   name = "default"              # required, unique, [A-Za-z0-9._-]+
//   backend = "..."               # required: a registered backend (`modelpool backends`)
//   path = "/models/small.gguf"   # required when the backend loads a file (needs_path)
//   mode = "batched"              # exclusive | batched (backends that batch); default:
//                                 # batched where the backend batches, else exclusive
//   instances = [1, 1]            # [min, max] (or one integer: fixed size)
//   slots = 8                     # batched: sequences per context
//   context = 2048                # KV tokens of a context (batched: shared by its slots)
//   threads = 0                   # compute threads for the model; 0: the cores
//   max_queue = 64                # waiters beyond this get 429
//   timeout_ms = 60000            # deadline of a request (a request may ask for less)
//   warmup = true
//   isolation = "thread"          # thread | process: each instance in a supervised
//                                 # worker process (process/process_model.h)
//   [model.options]               # the backend's options (strings, numbers, booleans),
//   service_ms = 0                # checked against its schema (BackendInfo::options)
//   [model.process]               # isolation = "process" only; all optional
//   heartbeat_ms = 250            # a worker silent for 4 heartbeats is killed
//   hang_grace_ms = 2000          # a request this long past its deadline or cancel kills its worker
//   crash_loop_limit = 5          # workers in a row dying before finishing a request: unready
//   restart_backoff_max_ms = 10000  # restart delay cap (doubling from 100 ms) and crash-loop cool-down
//   arena_mb = 256                # shared memory per worker, half inputs, half outputs
//   [model.autoscale]             # instances = [min, max] with min < max only; all optional
//   target_ongoing_requests = 1.0 # requests (running and waiting) per instance to aim for
//   upscale_delay_ms = 0          # the load must want more instances this long to grow
//   downscale_delay_ms = 600000   # ... fewer, this long to shrink (idle instances only); 0: never
//
// Backends are known through a BackendCatalog (backend.h), default_catalog()
// unless the caller passes one: the backend's name, whether it needs a path
// or batches, its option schema and its Backend::check all come from there.
//
// Unknown keys, wrong types and impossible values are refused with the file,
// line and key in the message. Ranges: port 1..65535; max_audio_upload_mb
// 1..4096; max_body_bytes,
// read_timeout_ms, stall_timeout_ms, handler_threads, stream_buffer_bytes,
// write_timeout_ms, slots, timeout_ms >= 1; context >= 16; drain_timeout_ms,
// threads, max_queue >= 0; instances N >= 1 or [min, max] with
// 0 <= min <= max, max >= 1. A file may declare no model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/model.h"
#include "modelpool/status.h"

namespace modelpool::server {

struct ModelConfig {
  std::string name;
  std::string backend;
  std::string path;
  // "exclusive" or "batched"; empty: the backend's default (batched where
  // BackendInfo::batching, else exclusive). parse_config fills it in.
  std::string mode;
  std::size_t min_instances = 1;
  std::size_t max_instances = 1;
  std::size_t slots = 8;
  std::size_t context = 2048;
  std::size_t threads = 0;
  std::size_t max_queue = 64;
  std::int64_t timeout_ms = 60000;
  bool warmup = true;
  std::map<std::string, std::string> options;  // numbers and booleans as text
  // An executor of the catalog: "thread" (default) or "process".
  std::string isolation = "thread";
  // [model.process], with isolation = "process" only.
  bool has_process_table = false;
  std::int64_t heartbeat_ms = 250;
  std::int64_t hang_grace_ms = 2000;
  std::size_t crash_loop_limit = 5;
  std::int64_t restart_backoff_max_ms = 10000;
  std::size_t arena_mb = 256;
  // [model.autoscale], with instances = [min, max], min < max, only.
  bool has_autoscale_table = false;
  double target_ongoing_requests = 1.0;
  std::int64_t upscale_delay_ms = 0;
  std::int64_t downscale_delay_ms = 600000;
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string api_key;
  std::string api_key_file;
  bool allow_unready_models = false;
  bool access_log = true;
  std::string log_level = "info";
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_audio_upload_mb = 25;
  std::int64_t read_timeout_ms = 30000;
  std::int64_t drain_timeout_ms = 10000;
  // After SIGTERM, before draining: readiness answers 503 but the listener
  // stays open and requests are served as usual, so load balancers take the
  // replica out by their health checks first. 0: drain at once.
  std::int64_t drain_delay_ms = 0;
  std::int64_t stall_timeout_ms = 10000;
  std::size_t handler_threads = 0;  // 0: not set, default_handler_threads(models)
  std::size_t stream_buffer_bytes = 1 << 20;
  std::int64_t write_timeout_ms = 30000;
  // Off by default: a client that may register regions makes the server map
  // any POSIX shm object its user can open (shm_regions.h).
  bool allow_client_shm = false;
  // Bytes all models together may hold; 0: no budget (memory_budget.h).
  std::size_t memory_budget = 0;
  std::vector<ModelConfig> models;
};

// The handler threads `models` need so that no request that a model would
// take (run or queue) waits for a thread: a handler blocks for its whole
// request, so each model may hold as many as it runs at once (batched mode:
// slots; otherwise max_instances) plus max_queue. The sum, plus 4 for
// repository loads and unloads, at least 16 and at most 4096 (a thread
// each; set handler_threads for more). Models loaded at run time that the
// file does not configure share what is left.
std::size_t default_handler_threads(const std::vector<ModelConfig>& models);

// The log levels, worst first, as the config and --log-level spell them.
inline constexpr const char* kLogLevels = "error, warn, info, debug";
bool is_log_level(std::string_view level);

// Parses TOML text; `source` names it in errors. kInvalidArgument on any
// problem, every problem found on a line of its own, in file order:
//   models.toml:3: [server]: unknown key 'prot' (known: api_key, ...)
//   models.toml:12: [[model]] 'default': key 'slots': expected a positive integer, got -3
// Backends, their options and their rules are those of `catalog`.
Result<ServerConfig> parse_config(std::string_view toml, const std::string& source,
                                  const BackendCatalog& catalog = default_catalog());

// Reads and parses a file. kNotFound when it cannot be read.
Result<ServerConfig> load_config_file(const std::string& path,
                                      const BackendCatalog& catalog = default_catalog());

// Checks one model entry on its own (used by parse_config and by the
// repository load endpoint): required keys, a backend of `catalog`, the mode
// and path it allows, sizes, its options (schema, then Backend::check).
// kInvalidArgument naming the model and each bad field:
//   model 'm': key 'slots': expected a positive integer, got 0; key 'mode': ...
Status validate_model(const ModelConfig& model, const BackendCatalog& catalog = default_catalog());

// The serving settings of `model`, as Backend::open and Backend::check take
// them; an empty mode is the backend's default (from `catalog`).
ServeOptions serve_options(const ModelConfig& model,
                           const BackendCatalog& catalog = default_catalog());

// What `model` names to load: its name, backend, path and options.
ModelSpec model_spec(const ModelConfig& model);

}  // namespace modelpool::server
