// The model repository file: TOML in, ServerConfig out, every refusal naming
// the file, the line and the key.
//
// Two layers, so that a file and the run-time load endpoint refuse the same
// things with the same words:
//  - the parser checks what only the TOML can tell: unknown keys, types, the
//    line of each key, and numbers that cannot land in their (unsigned) field;
//  - check_model() checks a ModelConfig's values (names, backend, mode, ranges,
//    fields that depend on each other, the backend's options) against a
//    BackendCatalog; parse_config and validate_model both call it, the first
//    adding the line of the offending key.
// The integer ranges live once, below, and both layers read them.
//
// Loading config is the control plane: toml::parse may throw, and its
// parse_error is turned into a Status here, never past this file.
#include "server/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "modelpool/memory_budget.h"
#include "modelpool/options.h"

namespace modelpool::server {
namespace {

constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();

// The values an integer field accepts, both ends included.
struct IntRange {
  std::int64_t min;
  std::int64_t max = kNoLimit;
};

constexpr IntRange kPortRange{1, 65535};
constexpr IntRange kPositive{1};
constexpr IntRange kNonNegative{0};
// Fewer KV tokens than this cannot hold a prompt and an answer.
constexpr IntRange kContextRange{16};

// [server]
constexpr IntRange kMaxBodyBytesRange = kPositive;
// The body is held in memory whole; 4 GiB is past any audio file a
// transcription takes in one request.
constexpr IntRange kMaxAudioUploadRange{1, 4096};
constexpr IntRange kReadTimeoutRange = kPositive;
constexpr IntRange kDrainTimeoutRange = kNonNegative;  // 0: stop without draining
constexpr IntRange kDrainDelayRange{0, 600000};
constexpr IntRange kStallTimeoutRange = kPositive;
constexpr IntRange kHandlerThreadsRange = kPositive;
constexpr IntRange kStreamBufferBytesRange = kPositive;
constexpr IntRange kWriteTimeoutRange = kPositive;
// [[model]]
constexpr IntRange kSlotsRange = kPositive;
constexpr IntRange kThreadsRange = kNonNegative;   // 0: the cores
constexpr IntRange kMaxQueueRange = kNonNegative;  // 0: never wait
constexpr IntRange kTimeoutRange = kPositive;
constexpr IntRange kFixedInstancesRange = kPositive;   // instances = N
constexpr IntRange kMinInstancesRange = kNonNegative;  // instances = [min, max]
constexpr IntRange kMaxInstancesRange = kPositive;

std::string describe(IntRange range) {
  if (range.max == kNoLimit) {
    if (range.min == 0) return "a non-negative integer";
    if (range.min == 1) return "a positive integer";
    return "an integer >= " + std::to_string(range.min);
  }
  return "an integer in " + std::to_string(range.min) + ".." + std::to_string(range.max);
}

// "" when `value` is in `range`, else why not. T may be unsigned (size_t).
template <typename T>
std::string range_error(T value, IntRange range) {
  if (std::cmp_greater_equal(value, range.min) && std::cmp_less_equal(value, range.max)) return {};
  return "expected " + describe(range) + ", got " + std::to_string(value);
}

bool is_model_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;  // path-like in URLs
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string instances_text(const ModelConfig& model) {
  return "[" + std::to_string(model.min_instances) + ", " + std::to_string(model.max_instances) +
         "]";
}

struct FieldError {
  std::string field;  // the TOML key ("slots", "instances")
  std::string message;
};

// "a or b", "a, b or c": the catalog's names, for messages.
std::string alternatives(const BackendCatalog& catalog) {
  const std::vector<std::shared_ptr<Backend>> backends = catalog.list();
  if (backends.empty()) return "no backend is registered";
  std::string out;
  for (std::size_t i = 0; i < backends.size(); ++i) {
    if (i > 0) out += i + 1 == backends.size() ? " or " : ", ";
    out += backends[i]->name();
  }
  return out;
}

bool is_mode(std::string_view mode) {
  return mode.empty() || mode == "exclusive" || mode == "batched";
}

ServeOptions::Mode mode_of(const ModelConfig& model, const BackendInfo* info) {
  if (model.mode == "batched") return ServeOptions::Mode::kBatched;
  if (model.mode.empty() && info != nullptr && info->batching) return ServeOptions::Mode::kBatched;
  return ServeOptions::Mode::kExclusive;
}

ServeOptions serve_options_for(const ModelConfig& model, const BackendInfo* info) {
  ServeOptions serve;
  serve.mode = mode_of(model, info);
  serve.min_instances = model.min_instances;
  serve.max_instances = model.max_instances;
  serve.slots = model.slots;
  serve.context = model.context;
  serve.threads = model.threads;
  serve.max_queue = model.max_queue;
  serve.warmup = model.warmup;
  serve.isolation = model.isolation;
  serve.process.heartbeat_interval = std::chrono::milliseconds(model.heartbeat_ms);
  serve.process.hang_grace = std::chrono::milliseconds(model.hang_grace_ms);
  serve.process.crash_loop_limit = model.crash_loop_limit;
  serve.process.restart_backoff_max = std::chrono::milliseconds(model.restart_backoff_max_ms);
  serve.process.arena_bytes = model.arena_mb << 20;
  serve.autoscale.target_ongoing_requests = model.target_ongoing_requests;
  serve.autoscale.upscale_delay = std::chrono::milliseconds(model.upscale_delay_ms);
  serve.autoscale.downscale_delay = std::chrono::milliseconds(model.downscale_delay_ms);
  return serve;
}

// The backend's verdict on `model`'s options: its schema, then (with a
// valid mode) its rules between options and serving settings. "" when fine.
std::string check_options(const Backend& backend, const ModelConfig& model) {
  const BackendInfo& info = backend.info();
  const std::string context = info.name + " model '" + model.name + "'";
  if (auto values = resolve(info.options, model.options, context); !values.ok()) {
    return values.status().message();
  }
  if (!is_mode(model.mode)) return {};
  ModelSpec spec;
  spec.name = model.name;
  spec.backend = model.backend;
  spec.path = model.path;
  spec.options = model.options;
  return backend.check(spec, serve_options_for(model, &info)).message();
}

// Every problem with the values of `model`, in field order.
std::vector<FieldError> check_model(const ModelConfig& model, const BackendCatalog& catalog) {
  std::vector<FieldError> errors;
  auto fail = [&](std::string field, std::string message) {
    if (!message.empty()) errors.push_back({std::move(field), std::move(message)});
  };
  if (model.name.empty()) {
    fail("name", "is required");
  } else if (!is_model_name(model.name)) {
    fail("name",
         "expected letters, digits, '.', '_' and '-' (not '.' or '..'), got '" + model.name + "'");
  }
  std::shared_ptr<Backend> backend;
  if (model.backend.empty()) {
    fail("backend", "is required (" + alternatives(catalog) + ")");
  } else if (auto found = catalog.find(model.backend); found.ok()) {
    backend = *found;
  } else {
    fail("backend", "expected " + alternatives(catalog) + ", got '" + model.backend + "'");
  }
  if (backend && backend->info().needs_path && model.path.empty()) {
    fail("path", "is required for backend '" + model.backend + "'");
  }
  if (!is_mode(model.mode)) {
    fail("mode", "expected exclusive or batched, got '" + model.mode + "'");
  } else if (backend && model.mode == "batched" && !backend->info().batching) {
    fail("mode", "backend '" + model.backend + "' has no batched mode: expected exclusive, got '" +
                     model.mode + "'");
  }
  if (!range_error(model.max_instances, kMaxInstancesRange).empty()) {
    fail("instances", "expected [min, max] with max >= 1, got " + instances_text(model));
  } else if (model.min_instances > model.max_instances) {
    fail("instances", "expected [min, max] with min <= max, got " + instances_text(model));
  }
  fail("slots", range_error(model.slots, kSlotsRange));
  fail("context", range_error(model.context, kContextRange));
  fail("threads", range_error(model.threads, kThreadsRange));
  fail("max_queue", range_error(model.max_queue, kMaxQueueRange));
  fail("timeout_ms", range_error(model.timeout_ms, kTimeoutRange));
  if (auto executor = catalog.find_executor(model.isolation); !executor.ok()) {
    fail("isolation", "expected " + catalog.executor_names() + ", got '" + model.isolation + "'");
  } else if (model.has_process_table && model.isolation != "process") {
    fail("process", "[model.process] applies to isolation = \"process\" only, and isolation is '" +
                        model.isolation + "'");
  }
  fail("process", range_error(model.heartbeat_ms, kPositive));
  fail("process", range_error(model.hang_grace_ms, kPositive));
  fail("process", range_error(model.crash_loop_limit, kPositive));
  fail("process", range_error(model.restart_backoff_max_ms, kPositive));
  fail("process", range_error(model.arena_mb, IntRange{1, 1 << 20}));
  if (model.has_autoscale_table) {
    const bool batched_slots =
        model.mode == "batched" || (model.mode.empty() && backend && backend->info().batching);
    if (model.min_instances >= model.max_instances) {
      fail("autoscale", "[model.autoscale] needs instances = [min, max] with min < max, got " +
                            instances_text(model));
    } else if (batched_slots && model.isolation != "process") {
      fail("autoscale", "[model.autoscale] applies to pools of instances; mode 'batched' runs one "
                        "engine with a fixed number of slots");
    }
  }
  if (!(model.target_ongoing_requests > 0) || !std::isfinite(model.target_ongoing_requests)) {
    fail("autoscale", "target_ongoing_requests: expected a number > 0");
  }
  fail("autoscale", range_error(model.upscale_delay_ms, kNonNegative));
  fail("autoscale", range_error(model.downscale_delay_ms, kNonNegative));
  if (backend) fail("options", check_options(*backend, model));
  return errors;
}

// ---- TOML ----

std::uint32_t line_of(const toml::node& node) {
  return node.source().begin.line;
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// Problems found in one document, reported in file order, one per line:
// "models.toml:12: [[model]] 'default': key 'slots': expected ...".
class Diagnostics {
 public:
  explicit Diagnostics(const std::string& source) : source_(source) {}

  void add(std::uint32_t line, std::string message) {
    entries_.push_back({line, std::move(message)});
  }
  bool empty() const { return entries_.empty(); }

  Status status() {
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const Entry& a, const Entry& b) { return a.line < b.line; });
    std::string text;
    for (const Entry& e : entries_) {
      if (!text.empty()) text += '\n';
      text += source_ + ":" + std::to_string(e.line) + ": " + e.message;
    }
    return invalid_argument_error(std::move(text));
  }

 private:
  struct Entry {
    std::uint32_t line;
    std::string message;
  };
  const std::string& source_;
  std::vector<Entry> entries_;
};

// Readers store the value of `node` in *out and return "", or return why they
// cannot ("expected a string, got an integer") and leave *out alone.
std::string read_string(const toml::node& node, std::string* out) {
  const auto* value = node.as_string();
  if (value == nullptr) return "expected a string, got " + type_name(node);
  if (value->get().find('\0') != std::string::npos) return "expected a string without NUL";
  *out = value->get();
  return {};
}

std::string read_bool(const toml::node& node, bool* out) {
  const auto* value = node.as_boolean();
  if (value == nullptr) return "expected a boolean, got " + type_name(node);
  *out = value->get();
  return {};
}

template <typename T>
std::string read_int(const toml::node& node, IntRange range, T* out) {
  const auto* value = node.as_integer();
  if (value == nullptr) return "expected " + describe(range) + ", got " + type_name(node);
  const std::int64_t v = value->get();
  if (std::string e = range_error(v, range); !e.empty()) return e;
  // Every range fits T: the largest finite max is the port's, and the unbounded
  // fields are int64 or size_t.
  *out = static_cast<T>(v);
  return {};
}

// instances = N (a fixed pool) or [min, max] (check_model relates the two).
std::string read_instances(const toml::node& node, ModelConfig* model) {
  if (node.is_integer()) {
    std::size_t n = 0;
    if (std::string e = read_int(node, kFixedInstancesRange, &n); !e.empty()) return e;
    model->min_instances = model->max_instances = n;
    return {};
  }
  const auto* array = node.as_array();
  if (array == nullptr || array->size() != 2) {
    return "expected a positive integer or [min, max], got " +
           (array == nullptr ? type_name(node)
                             : "an array of " + std::to_string(array->size()) + " elements");
  }
  std::size_t min = 0;
  std::size_t max = 0;
  if (std::string e = read_int(*array->get(0), kMinInstancesRange, &min); !e.empty()) {
    return "min: " + e;
  }
  if (std::string e = read_int(*array->get(1), kMaxInstancesRange, &max); !e.empty()) {
    return "max: " + e;
  }
  model->min_instances = min;
  model->max_instances = max;
  return {};
}

// An option value as text: integers in decimal, booleans "true"/"false",
// floats in the shortest form that reads back to the same double.
std::string read_option(const toml::node& node, std::string* out) {
  switch (node.type()) {
    case toml::node_type::string: return read_string(node, out);
    case toml::node_type::integer: *out = std::to_string(**node.as_integer()); return {};
    case toml::node_type::boolean: *out = **node.as_boolean() ? "true" : "false"; return {};
    case toml::node_type::floating_point: {
      char buffer[64];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, **node.as_floating_point());
      if (ec != std::errc()) return "cannot format this float";
      out->assign(buffer, end);
      return {};
    }
    default: return "expected a string, number or boolean, got " + type_name(node);
  }
}

// "[[model]] 'm': key 'slots': expected ...", the one shape of a key's problem
// (without "where: " when `where` is empty).
std::string about_key(std::string_view where, std::string_view key, std::string_view problem) {
  std::string text(where);
  if (!text.empty()) text += ": ";
  text.append("key '").append(key).append("': ").append(problem);
  return text;
}

using Reader = std::function<std::string(const toml::node&)>;

// Where each key of a section was, and which keys were refused.
struct SectionKeys {
  std::map<std::string, std::uint32_t, std::less<>> lines;
  std::set<std::string, std::less<>> failed;
};

// Reads every key of `table` with its reader; `where` prefixes messages
// ("[server]", "[[model]] 'default'").
SectionKeys read_section(const toml::table& table, const std::string& where,
                         const std::map<std::string_view, Reader>& readers, Diagnostics& diag) {
  SectionKeys keys;
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    keys.lines[name] = line_of(node);
    auto reader = readers.find(key.str());
    if (reader == readers.end()) {
      std::string text = where;
      text.append(": unknown key '").append(name).append("' (known: ");
      for (auto it = readers.begin(); it != readers.end(); ++it) {
        text.append(it == readers.begin() ? "" : ", ").append(it->first);
      }
      diag.add(line_of(node), text + ")");
      keys.failed.insert(name);
    } else if (std::string e = reader->second(node); !e.empty()) {
      diag.add(line_of(node), about_key(where, name, e));
      keys.failed.insert(name);
    }
  }
  return keys;
}

void parse_server(const toml::table& table, ServerConfig* config, Diagnostics& diag) {
  const std::map<std::string_view, Reader> readers = {
      {"host",
       [&](const toml::node& n) {
         std::string host;
         if (std::string e = read_string(n, &host); !e.empty()) return e;
         if (host.empty()) return std::string("expected a host name or address, got \"\"");
         config->host = std::move(host);
         return std::string();
       }},
      {"port", [&](const toml::node& n) { return read_int(n, kPortRange, &config->port); }},
      {"api_key", [&](const toml::node& n) { return read_string(n, &config->api_key); }},
      {"api_key_file", [&](const toml::node& n) { return read_string(n, &config->api_key_file); }},
      {"allow_unready_models",
       [&](const toml::node& n) { return read_bool(n, &config->allow_unready_models); }},
      {"access_log", [&](const toml::node& n) { return read_bool(n, &config->access_log); }},
      {"allow_client_shm", [&](const toml::node& n) { return read_bool(n, &config->allow_client_shm); }},
      {"log_level",
       [&](const toml::node& n) {
         std::string level;
         if (std::string e = read_string(n, &level); !e.empty()) return e;
         if (!is_log_level(level)) return "expected one of " + std::string(kLogLevels) + ", got \"" + level + "\"";
         config->log_level = std::move(level);
         return std::string();
       }},
      {"max_body_bytes",
       [&](const toml::node& n) {
         return read_int(n, kMaxBodyBytesRange, &config->max_body_bytes);
       }},
      {"max_audio_upload_mb",
       [&](const toml::node& n) {
         return read_int(n, kMaxAudioUploadRange, &config->max_audio_upload_mb);
       }},
      {"read_timeout_ms",
       [&](const toml::node& n) {
         return read_int(n, kReadTimeoutRange, &config->read_timeout_ms);
       }},
      {"drain_timeout_ms",
       [&](const toml::node& n) {
         return read_int(n, kDrainTimeoutRange, &config->drain_timeout_ms);
       }},
      {"drain_delay_ms",
       [&](const toml::node& n) { return read_int(n, kDrainDelayRange, &config->drain_delay_ms); }},
      {"stall_timeout_ms",
       [&](const toml::node& n) {
         return read_int(n, kStallTimeoutRange, &config->stall_timeout_ms);
       }},
      {"handler_threads",
       [&](const toml::node& n) {
         return read_int(n, kHandlerThreadsRange, &config->handler_threads);
       }},
      {"stream_buffer_bytes",
       [&](const toml::node& n) {
         return read_int(n, kStreamBufferBytesRange, &config->stream_buffer_bytes);
       }},
      {"write_timeout_ms",
       [&](const toml::node& n) {
         return read_int(n, kWriteTimeoutRange, &config->write_timeout_ms);
       }},
      {"memory_budget",
       [&](const toml::node& n) -> std::string {
         if (const auto* bytes = n.as_integer()) {
           if (bytes->get() < 0) return "expected a size (\"6GiB\", \"512MiB\" or bytes), got " + std::to_string(bytes->get());
           config->memory_budget = static_cast<std::size_t>(bytes->get());
           return {};
         }
         std::string text;
         if (std::string e = read_string(n, &text); !e.empty()) {
           return "expected a size (\"6GiB\", \"512MiB\" or bytes), got " + type_name(n);
         }
         auto size = parse_byte_size(text);
         if (!size.ok()) return size.status().message();
         config->memory_budget = *size;
         return {};
       }},
  };
  read_section(table, "[server]", readers, diag);
}

// One [[model]] table (the index-th, from 0); `first_line_of` maps the names
// seen so far to their line, to refuse duplicates.
void parse_model(const toml::table& table, std::size_t index, const BackendCatalog& catalog,
                 std::map<std::string, std::uint32_t>* first_line_of, ServerConfig* config,
                 Diagnostics& diag) {
  std::string where = "[[model]] #" + std::to_string(index + 1);
  if (const auto* name = table.get_as<std::string>("name"); name && is_model_name(name->get())) {
    where = "[[model]] '" + name->get() + "'";
  }
  ModelConfig model;
  bool bad_option = false;  // then the backend's check of the options is moot
  const auto options = [&](const toml::node& n) {
    const auto* t = n.as_table();
    if (t == nullptr) return "expected a table ([model.options]), got " + type_name(n);
    for (const auto& [key, value] : *t) {
      std::string text;
      if (std::string e = read_option(value, &text); !e.empty()) {
        diag.add(line_of(value), about_key(where, "options." + std::string(key.str()), e));
        bad_option = true;
      } else {
        model.options[std::string(key.str())] = std::move(text);
      }
    }
    return std::string();
  };
  const auto process = [&](const toml::node& n) {
    const auto* t = n.as_table();
    if (t == nullptr) return "expected a table ([model.process]), got " + type_name(n);
    model.has_process_table = true;
    const std::map<std::string_view, Reader> keys = {
        {"heartbeat_ms", [&](const toml::node& v) { return read_int(v, kPositive, &model.heartbeat_ms); }},
        {"hang_grace_ms", [&](const toml::node& v) { return read_int(v, kPositive, &model.hang_grace_ms); }},
        {"crash_loop_limit", [&](const toml::node& v) { return read_int(v, kPositive, &model.crash_loop_limit); }},
        {"restart_backoff_max_ms",
         [&](const toml::node& v) { return read_int(v, kPositive, &model.restart_backoff_max_ms); }},
        {"arena_mb", [&](const toml::node& v) { return read_int(v, IntRange{1, 1 << 20}, &model.arena_mb); }},
    };
    read_section(*t, where + " [model.process]", keys, diag);
    return std::string();
  };
  const auto autoscale = [&](const toml::node& n) {
    const auto* t = n.as_table();
    if (t == nullptr) return "expected a table ([model.autoscale]), got " + type_name(n);
    model.has_autoscale_table = true;
    const std::map<std::string_view, Reader> keys = {
        {"target_ongoing_requests",
         [&](const toml::node& v) -> std::string {
           const std::optional<double> value = v.value<double>();
           if (!value || !(*value > 0) || !std::isfinite(*value)) {
             return "expected a number > 0, got " + (value ? std::to_string(*value) : type_name(v));
           }
           model.target_ongoing_requests = *value;
           return {};
         }},
        {"upscale_delay_ms", [&](const toml::node& v) { return read_int(v, kNonNegative, &model.upscale_delay_ms); }},
        {"downscale_delay_ms",
         [&](const toml::node& v) { return read_int(v, kNonNegative, &model.downscale_delay_ms); }},
    };
    read_section(*t, where + " [model.autoscale]", keys, diag);
    return std::string();
  };
  const std::map<std::string_view, Reader> readers = {
      {"name", [&](const toml::node& n) { return read_string(n, &model.name); }},
      {"backend", [&](const toml::node& n) { return read_string(n, &model.backend); }},
      {"path", [&](const toml::node& n) { return read_string(n, &model.path); }},
      {"mode",
       [&](const toml::node& n) {
         std::string mode;
         if (std::string e = read_string(n, &mode); !e.empty()) return e;
         // Empty is "the backend's default" in a ModelConfig, not a word a file may write.
         if (mode.empty()) return std::string("expected exclusive or batched, got ''");
         model.mode = std::move(mode);
         return std::string();
       }},
      {"instances", [&](const toml::node& n) { return read_instances(n, &model); }},
      {"slots", [&](const toml::node& n) { return read_int(n, kSlotsRange, &model.slots); }},
      {"context", [&](const toml::node& n) { return read_int(n, kContextRange, &model.context); }},
      {"threads", [&](const toml::node& n) { return read_int(n, kThreadsRange, &model.threads); }},
      {"max_queue",
       [&](const toml::node& n) { return read_int(n, kMaxQueueRange, &model.max_queue); }},
      {"timeout_ms",
       [&](const toml::node& n) { return read_int(n, kTimeoutRange, &model.timeout_ms); }},
      {"warmup", [&](const toml::node& n) { return read_bool(n, &model.warmup); }},
      {"isolation", [&](const toml::node& n) { return read_string(n, &model.isolation); }},
      {"options", options},
      {"process", process},
      {"autoscale", autoscale},
  };
  const SectionKeys keys = read_section(table, where, readers, diag);
  if (model.mode.empty()) {  // the backend's default, named in the config read back
    if (auto backend = catalog.find(model.backend); backend.ok()) {
      model.mode = (*backend)->info().batching ? "batched" : "exclusive";
    }
  }

  // A key the parser already refused is not reported again (its field holds the
  // default); a required key that is missing is reported at the table's header.
  for (const FieldError& e : check_model(model, catalog)) {
    if (keys.failed.contains(e.field) || (e.field == "options" && bad_option)) continue;
    auto line = keys.lines.find(e.field);
    diag.add(line == keys.lines.end() ? line_of(table) : line->second,
             about_key(where, e.field, e.message));
  }
  if (is_model_name(model.name)) {
    const std::uint32_t line = keys.lines.at("name");
    auto [first, inserted] = first_line_of->try_emplace(model.name, line);
    if (!inserted) {
      diag.add(line,
               about_key(where, "name",
                         "'" + model.name + "' is already the name of the [[model]] at line " +
                             std::to_string(first->second)));
    }
  }
  config->models.push_back(std::move(model));
}

}  // namespace

std::size_t default_handler_threads(const std::vector<ModelConfig>& models) {
  constexpr std::size_t kRepository = 4;  // concurrent loads and unloads
  constexpr std::size_t kFloor = 16;
  constexpr std::size_t kCeiling = 4096;
  std::size_t n = kRepository;
  for (const ModelConfig& m : models) {
    const bool batched = serve_options(m).mode == ServeOptions::Mode::kBatched;
    // A batched model in process isolation runs `slots` in each worker.
    const std::size_t engines = m.isolation == "process" ? m.max_instances : 1;
    n += (batched ? m.slots * engines : m.max_instances) + m.max_queue;
    if (n >= kCeiling) return kCeiling;
  }
  return std::clamp(n, kFloor, kCeiling);
}

bool is_log_level(std::string_view level) {
  return level == "error" || level == "warn" || level == "info" || level == "debug";
}

Result<ServerConfig> parse_config(std::string_view toml, const std::string& source,
                                  const BackendCatalog& catalog) {
  Diagnostics diag(source);
  toml::table root;
  try {
    root = toml::parse(toml, source);
  } catch (const toml::parse_error& e) {
    diag.add(e.source().begin.line, "TOML syntax error: " + std::string(e.description()));
    return diag.status();
  }

  ServerConfig config;
  std::map<std::string, std::uint32_t> first_line_of;
  for (const auto& [key, node] : root) {
    if (key == "server") {
      if (const auto* table = node.as_table()) {
        parse_server(*table, &config, diag);
      } else {
        diag.add(line_of(node),
                 "key 'server': expected a table ([server]), got " + type_name(node));
      }
    } else if (key == "model") {
      const auto* array = node.as_array();
      if (array == nullptr) {
        diag.add(line_of(node),
                 "key 'model': expected an array of tables ([[model]]), got " + type_name(node));
        continue;
      }
      for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        if (const auto* table = element.as_table()) {
          parse_model(*table, i, catalog, &first_line_of, &config, diag);
        } else {
          diag.add(line_of(element), "key 'model': expected an array of tables ([[model]]), got " +
                                         type_name(element) + " in it");
        }
      }
    } else {
      diag.add(line_of(node), "unknown top-level key '" + std::string(key.str()) +
                                  "' (known: [server], [[model]])");
    }
  }
  if (!diag.empty()) return diag.status();
  return config;
}

Result<ServerConfig> load_config_file(const std::string& path, const BackendCatalog& catalog) {
  auto cannot_read = [&](int error) {
    return not_found_error("cannot read config file '" + path +
                           "': " + std::generic_category().message(error));
  };
  struct Close {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Close> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return cannot_read(errno);
  std::string text;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, n);
  if (std::ferror(file.get())) return cannot_read(errno);  // EISDIR for a directory
  return parse_config(text, path, catalog);
}

Status validate_model(const ModelConfig& model, const BackendCatalog& catalog) {
  const std::vector<FieldError> errors = check_model(model, catalog);
  if (errors.empty()) return {};
  std::string text = model.name.empty() ? "model (unnamed)" : "model '" + model.name + "'";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    text.append(i == 0 ? ": " : "; ").append(about_key("", errors[i].field, errors[i].message));
  }
  return invalid_argument_error(std::move(text));
}

ModelSpec model_spec(const ModelConfig& model) {
  ModelSpec spec;
  spec.name = model.name;
  spec.backend = model.backend;
  spec.path = model.path;
  spec.options = model.options;
  return spec;
}

ServeOptions serve_options(const ModelConfig& model, const BackendCatalog& catalog) {
  auto backend = catalog.find(model.backend);
  return serve_options_for(model, backend.ok() ? &(*backend)->info() : nullptr);
}

}  // namespace modelpool::server
