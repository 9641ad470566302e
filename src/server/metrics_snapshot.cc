#include "server/metrics_snapshot.h"

#include "modelpool/memory.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace modelpool::server {
namespace {

// The histograms, in the order both renderings list them.
struct HistogramFamily {
  const char* prometheus_name;
  const char* json_name;
  const char* help;
  HistogramBuckets ModelSnapshot::*buckets;
  LatencyHistogram ModelMetrics::*source;
};

constexpr HistogramFamily kHistograms[] = {
    {"modelpool_queue_wait_seconds", "queue_wait_seconds",
     "Time from arrival until the model started on the request (batched LLMs: first prompt tokens decoded).",
     &ModelSnapshot::queue_wait, &ModelMetrics::queue_wait},
    {"modelpool_inference_duration_seconds", "inference_duration_seconds",
     "Time from the model starting on the request to its end.", &ModelSnapshot::inference,
     &ModelMetrics::inference},
    {"modelpool_request_duration_seconds", "request_duration_seconds",
     "Time from arrival to the end of the answer (end to end).", &ModelSnapshot::request_duration,
     &ModelMetrics::request_duration},
    {"modelpool_time_to_first_token_seconds", "time_to_first_token_seconds",
     "Time from arrival to the first generated token.", &ModelSnapshot::time_to_first_token,
     &ModelMetrics::time_to_first_token},
    {"modelpool_time_per_output_token_seconds", "time_per_output_token_seconds",
     "Mean time between generated tokens after the first, one sample per request.",
     &ModelSnapshot::time_per_output_token, &ModelMetrics::time_per_output_token},
};

// ---- Prometheus

std::string prometheus_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += " ";
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += " ";
  out += type;
  out += "\n";
}

// `name{model="M"} value` (labels after model in `more`, as `,k="v"`).
void sample(std::string& out, const char* name, const std::string& model, std::uint64_t value,
            const std::string& more = {}) {
  out += name;
  out += "{model=\"" + model + "\"" + more + "} " + std::to_string(value) + "\n";
}

// `text` as a Prometheus label value: backslash, double quote and newline
// escaped.
std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void histogram(std::string& out, const char* name, const std::string& model, const HistogramBuckets& h) {
  for (std::size_t i = 0; i < h.bounds_s.size(); ++i) {
    out += std::string(name) + "_bucket{model=\"" + model + "\",le=\"" + prometheus_number(h.bounds_s[i]) +
           "\"} " + std::to_string(h.cumulative[i]) + "\n";
  }
  out += std::string(name) + "_bucket{model=\"" + model + "\",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
  out += std::string(name) + "_sum{model=\"" + model + "\"} " + prometheus_number(h.sum_s) + "\n";
  out += std::string(name) + "_count{model=\"" + model + "\"} " + std::to_string(h.count) + "\n";
}

// ---- JSON

// A finite double as the shortest text that reads back as it (JSON has no
// NaN or infinity: those are written as 0).
std::string json_number(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string json_string(std::string_view s) { return boost::json::serialize(boost::json::string_view(s)); }

void json_histogram(std::string& out, const HistogramBuckets& h) {
  out += "{\"le\":[";
  for (std::size_t i = 0; i < h.bounds_s.size(); ++i) out += (i ? "," : "") + json_number(h.bounds_s[i]);
  out += "],\"counts\":[";
  for (std::size_t i = 0; i < h.cumulative.size(); ++i) out += (i ? "," : "") + std::to_string(h.cumulative[i]);
  out += "],\"count\":" + std::to_string(h.count) + ",\"sum\":" + json_number(h.sum_s) + "}";
}

std::string epoch_ms(std::chrono::system_clock::time_point t) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

// The dashboard's part of a model: its instances and recent errors.
void json_model_detail(std::string& out, const ModelSnapshot& m) {
  out += ",\"instance_list\":[";
  for (std::size_t i = 0; i < m.instance_list.size(); ++i) {
    const InstanceView& v = m.instance_list[i];
    out += std::string(i ? "," : "") + "{\"id\":" + std::to_string(v.id) +
           ",\"state\":" + json_string(instance_state_name(v.state)) +
           ",\"label\":" + (v.label.empty() ? std::string("null") : json_string(v.label)) + "}";
  }
  out += "],\"recent_errors\":[";
  for (std::size_t i = 0; i < m.recent_errors.size(); ++i) {
    const RecentError& e = m.recent_errors[i];
    out += std::string(i ? "," : "") + "{\"time_ms\":" + epoch_ms(e.time) +
           ",\"code\":" + std::to_string(e.code) + ",\"message\":" + json_string(e.message) + "}";
  }
  out += "]";
}

void json_model(std::string& out, const ModelSnapshot& m, JsonDetail detail) {
  out += "{\"requests\":[";
  for (std::size_t i = 0; i < m.requests.size(); ++i) {
    const OutcomeCount& r = m.requests[i];
    out += std::string(i ? "," : "") + "{\"outcome\":" + json_string(outcome_name(r.outcome)) +
           ",\"code\":" + std::to_string(r.code) + ",\"count\":" + std::to_string(r.count) + "}";
  }
  out += "],\"tokens_generated\":" + std::to_string(m.tokens_generated);
  out += ",\"prompt_tokens\":" + std::to_string(m.prompt_tokens);
  out += ",\"stream_overflows\":" + std::to_string(m.stream_overflows);
  out += ",\"queue_length\":" + std::to_string(m.queue_length);
  const AutoscaleState& a = m.autoscale;
  out += ",\"autoscale\":{\"min\":" + std::to_string(a.min) + ",\"max\":" + std::to_string(a.max) +
         ",\"desired\":" + std::to_string(a.desired) +
         ",\"budget_limited\":" + (a.budget_limited ? "true" : "false") +
         ",\"growth_refused\":" + std::to_string(a.growth_refused) + "}";
  const InstanceCounts& i = m.instances;
  out += ",\"instances\":{\"creating\":" + std::to_string(i.creating) + ",\"idle\":" + std::to_string(i.idle) +
         ",\"busy\":" + std::to_string(i.busy) + ",\"checking\":" + std::to_string(i.checking) +
         ",\"broken\":" + std::to_string(i.broken) + "}";
  out += ",\"kv_cache\":";
  out += m.kv ? "{\"used_cells\":" + std::to_string(m.kv->used_cells) +
                    ",\"cells\":" + std::to_string(m.kv->total_cells) + "}"
              : "null";
  out += ",\"prefix_cache\":";
  if (const std::optional<PrefixCacheStats>& c = m.prefix_cache) {
    out += "{\"hit_tokens\":" + std::to_string(c->hit_tokens) + ",\"miss_tokens\":" + std::to_string(c->miss_tokens) +
           ",\"evictions\":" + std::to_string(c->evictions) + ",\"tokens\":" + std::to_string(c->tokens) +
           ",\"bytes\":" + std::to_string(c->bytes) + ",\"max_tokens\":" + std::to_string(c->max_tokens) +
           ",\"max_bytes\":" + std::to_string(c->max_bytes) + "}";
  } else {
    out += "null";
  }
  out += ",\"memory\":{\"weights_bytes\":" + std::to_string(m.weights_bytes) +
         ",\"instance_bytes\":" + std::to_string(m.instance_bytes) + "}";
  out += ",\"ready\":" + std::string(m.unready_reason.empty() ? "true" : "false");
  out += ",\"unready_reason\":" + (m.unready_reason.empty() ? std::string("null") : json_string(m.unready_reason));
  out += ",\"workers\":";
  if (const std::optional<WorkerStats>& w = m.workers) {
    out += "{\"pids\":[";
    for (std::size_t p = 0; p < w->pids.size(); ++p) out += (p ? "," : "") + std::to_string(w->pids[p]);
    out += "],\"pss_bytes\":" + (m.workers_pss_bytes ? std::to_string(*m.workers_pss_bytes) : "null");
    out += ",\"started\":" + std::to_string(w->started) + ",\"restarts\":" + std::to_string(w->restarts);
    out += ",\"crashes\":{";
    bool first = true;
    for (const auto& [cause, n] : w->crashes) {
      out += (first ? "" : ",") + json_string(cause) + ":" + std::to_string(n);
      first = false;
    }
    out += "},\"heartbeat_kills\":" + std::to_string(w->heartbeat_kills) +
           ",\"hang_kills\":" + std::to_string(w->hang_kills);
    out += ",\"requests\":{\"succeeded\":" + std::to_string(w->succeeded) +
           ",\"retried\":" + std::to_string(w->retried) +
           ",\"failed_by_crash\":" + std::to_string(w->failed_by_crash) + "}";
    out += ",\"last_exit\":" + (w->last_exit.empty() ? std::string("null") : json_string(w->last_exit)) + "}";
  } else {
    out += "null";
  }
  out += ",\"histograms\":{";
  for (std::size_t h = 0; h < std::size(kHistograms); ++h) {
    out += std::string(h ? "," : "") + "\"" + kHistograms[h].json_name + "\":";
    json_histogram(out, m.*kHistograms[h].buckets);
  }
  out += "}";
  if (detail == JsonDetail::kDashboard) json_model_detail(out, m);
  out += "}";
}

}  // namespace

HistogramBuckets buckets_of(const HistogramSnapshot& h, std::span<const double> bounds_s) {
  HistogramBuckets b;
  b.bounds_s.assign(bounds_s.begin(), bounds_s.end());
  b.cumulative.reserve(bounds_s.size());
  for (double bound : bounds_s) b.cumulative.push_back(h.count_at_most(bound));
  b.count = h.count;
  b.sum_s = h.sum_s;
  return b;
}

ModelSnapshot snapshot_model(std::string name, const ModelStats& stats, const ModelMetrics& metrics) {
  ModelSnapshot m;
  m.name = std::move(name);
  m.requests = metrics.outcomes();
  m.tokens_generated = metrics.tokens_generated.load();
  m.prompt_tokens = metrics.prompt_tokens.load();
  m.stream_overflows = metrics.stream_overflows.load();
  const PoolSnapshot& p = stats.pool;
  m.queue_length = p.queue_length;
  m.instances = {p.creating, p.idle, p.busy, p.checking, p.broken};
  m.autoscale = {p.min_instances, p.max_instances, p.desired, p.budget_limited, p.growth_refused};
  m.kv = stats.kv;
  m.prefix_cache = stats.prefix_cache;
  m.weights_bytes = stats.weights_bytes;
  m.instance_bytes = stats.instance_bytes;
  m.unready_reason = stats.unready_reason;
  m.workers = stats.workers;
  if (m.workers) {
    std::size_t pss = 0;
    bool known = true;
    for (int pid : m.workers->pids) {
      Result<std::size_t> bytes = read_pss_bytes(pid);
      if (bytes.ok()) pss += *bytes; else known = false;  // one that just exited
    }
    if (known) m.workers_pss_bytes = pss;
  }
  for (const HistogramFamily& f : kHistograms) {
    m.*f.buckets = buckets_of((metrics.*f.source).snapshot(), kLatencyBounds);
  }
  m.instance_list = stats.pool.instances;
  m.recent_errors = metrics.recent_errors();
  return m;
}

std::string render_prometheus(const MetricsSnapshot& snapshot) {
  const std::vector<ModelSnapshot>& models = snapshot.models;
  std::string out;
  header(out, "modelpool_requests_total", "counter",
         "Requests by model, by what the client experienced (ok, cancelled, timeout, rejected, cut_off, error) "
         "and by the HTTP status it got (499: the client went away).");
  for (const ModelSnapshot& m : models) {
    for (const OutcomeCount& r : m.requests) {
      sample(out, "modelpool_requests_total", m.name, r.count,
             ",outcome=\"" + std::string(outcome_name(r.outcome)) + "\",code=\"" + std::to_string(r.code) + "\"");
    }
  }
  for (const HistogramFamily& f : kHistograms) {
    header(out, f.prometheus_name, "histogram", f.help);
    for (const ModelSnapshot& m : models) histogram(out, f.prometheus_name, m.name, m.*f.buckets);
  }
  header(out, "modelpool_queue_length", "gauge", "Requests waiting for an instance or slot.");
  for (const ModelSnapshot& m : models) sample(out, "modelpool_queue_length", m.name, m.queue_length);
  header(out, "modelpool_instances", "gauge", "Instances (or batch slots) by state.");
  for (const ModelSnapshot& m : models) {
    const InstanceCounts& i = m.instances;
    const std::pair<const char*, std::size_t> states[] = {
        {"creating", i.creating}, {"idle", i.idle}, {"busy", i.busy}, {"checking", i.checking}, {"broken", i.broken}};
    for (const auto& [state, n] : states) {
      sample(out, "modelpool_instances", m.name, n, ",state=\"" + std::string(state) + "\"");
    }
  }
  header(out, "modelpool_instances_desired", "gauge",
         "Instances (or batch slots) the autoscaler wants for the load now, within the bounds.");
  for (const ModelSnapshot& m : models) sample(out, "modelpool_instances_desired", m.name, m.autoscale.desired);
  header(out, "modelpool_instances_max", "gauge", "Most instances (or batch slots) the model may have.");
  for (const ModelSnapshot& m : models) sample(out, "modelpool_instances_max", m.name, m.autoscale.max);
  header(out, "modelpool_memory_budget_limited", "gauge",
         "1 while the memory budget refuses growth the model's load wants; 0 otherwise.");
  for (const ModelSnapshot& m : models) {
    sample(out, "modelpool_memory_budget_limited", m.name, m.autoscale.budget_limited ? 1 : 0);
  }
  header(out, "modelpool_memory_budget_refusals_total", "counter",
         "Instances the model wanted and the memory budget refused.");
  for (const ModelSnapshot& m : models) {
    sample(out, "modelpool_memory_budget_refusals_total", m.name, m.autoscale.growth_refused);
  }
  header(out, "modelpool_kv_cache_used_cells", "gauge", "KV-cache cells holding tokens now (LLMs).");
  for (const ModelSnapshot& m : models) {
    if (m.kv) sample(out, "modelpool_kv_cache_used_cells", m.name, m.kv->used_cells);
  }
  header(out, "modelpool_kv_cache_cells", "gauge", "KV-cache cells in all of the model's contexts (LLMs).");
  for (const ModelSnapshot& m : models) {
    if (m.kv) sample(out, "modelpool_kv_cache_cells", m.name, m.kv->total_cells);
  }
  header(out, "modelpool_tokens_generated_total", "counter", "Completion tokens generated.");
  for (const ModelSnapshot& m : models) sample(out, "modelpool_tokens_generated_total", m.name, m.tokens_generated);
  header(out, "modelpool_prompt_tokens_total", "counter", "Prompt tokens processed.");
  for (const ModelSnapshot& m : models) sample(out, "modelpool_prompt_tokens_total", m.name, m.prompt_tokens);
  const struct {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t (*value)(const PrefixCacheStats&);
  } kPrefixCache[] = {
      {"modelpool_prefix_cache_hit_tokens_total", "counter",
       "Prompt tokens whose KV state came from the prefix cache instead of being computed.",
       [](const PrefixCacheStats& c) -> std::uint64_t { return c.hit_tokens; }},
      {"modelpool_prefix_cache_miss_tokens_total", "counter",
       "Prompt tokens computed by requests that looked in the prefix cache.",
       [](const PrefixCacheStats& c) -> std::uint64_t { return c.miss_tokens; }},
      {"modelpool_prefix_cache_evictions_total", "counter",
       "Prefix-cache blocks dropped (least recently used first) to stay within its bounds.",
       [](const PrefixCacheStats& c) -> std::uint64_t { return c.evictions; }},
      {"modelpool_prefix_cache_tokens", "gauge", "Tokens whose KV state the prefix cache holds now.",
       [](const PrefixCacheStats& c) -> std::uint64_t { return c.tokens; }},
      {"modelpool_prefix_cache_bytes", "gauge", "Bytes of KV state the prefix cache holds now.",
       [](const PrefixCacheStats& c) -> std::uint64_t { return c.bytes; }},
  };
  for (const auto& family : kPrefixCache) {
    header(out, family.name, family.type, family.help);
    for (const ModelSnapshot& m : models) {
      if (m.prefix_cache) sample(out, family.name, m.name, family.value(*m.prefix_cache));
    }
  }
  header(out, "modelpool_stream_overflows_total", "counter",
         "Streams cancelled because their client stopped reading (more than stream_buffer_bytes queued); "
         "each is also counted in modelpool_requests_total as cancelled, 499.");
  for (const ModelSnapshot& m : models) sample(out, "modelpool_stream_overflows_total", m.name, m.stream_overflows);
  header(out, "modelpool_weights_bytes", "gauge", "Bytes of the model's weights, loaded once.");
  for (const ModelSnapshot& m : models) sample(out, "modelpool_weights_bytes", m.name, m.weights_bytes);
  header(out, "modelpool_model_ready", "gauge", "1 when the model can serve; 0 while it cannot (a crash loop).");
  for (const ModelSnapshot& m : models) sample(out, "modelpool_model_ready", m.name, m.unready_reason.empty() ? 1 : 0);
  header(out, "modelpool_model_unready_info", "gauge", "Why a loaded model cannot serve now; present only then.");
  for (const ModelSnapshot& m : models) {
    if (!m.unready_reason.empty()) {
      sample(out, "modelpool_model_unready_info", m.name, 1, ",reason=\"" + label_value(m.unready_reason) + "\"");
    }
  }
  header(out, "modelpool_worker_processes", "gauge", "Worker processes running (isolation = \"process\").");
  for (const ModelSnapshot& m : models) {
    if (m.workers) sample(out, "modelpool_worker_processes", m.name, m.workers->pids.size());
  }
  header(out, "modelpool_worker_pss_bytes", "gauge", "Proportional set size of the model's worker processes, summed.");
  for (const ModelSnapshot& m : models) {
    if (m.workers_pss_bytes) sample(out, "modelpool_worker_pss_bytes", m.name, *m.workers_pss_bytes);
  }
  header(out, "modelpool_worker_restarts_total", "counter", "Worker processes started to replace one that died.");
  for (const ModelSnapshot& m : models) {
    if (m.workers) sample(out, "modelpool_worker_restarts_total", m.name, m.workers->restarts);
  }
  header(out, "modelpool_worker_crashes_total", "counter",
         "Worker processes that died unasked, by cause: the signal that killed them, or their exit status.");
  for (const ModelSnapshot& m : models) {
    if (!m.workers) continue;
    for (const auto& [cause, n] : m.workers->crashes) {
      sample(out, "modelpool_worker_crashes_total", m.name, n, ",cause=\"" + label_value(cause) + "\"");
    }
  }
  header(out, "modelpool_worker_kills_total", "counter",
         "Workers the server killed: for missing heartbeats, or for running a request past its deadline or cancel.");
  for (const ModelSnapshot& m : models) {
    if (!m.workers) continue;
    sample(out, "modelpool_worker_kills_total", m.name, m.workers->heartbeat_kills, ",reason=\"heartbeat\"");
    sample(out, "modelpool_worker_kills_total", m.name, m.workers->hang_kills, ",reason=\"hang\"");
  }
  header(out, "modelpool_worker_requests_total", "counter",
         "Requests of process-isolated models: answered (succeeded), run again after their worker died "
         "(retried), failed because their worker died (failed_by_crash).");
  for (const ModelSnapshot& m : models) {
    if (!m.workers) continue;
    sample(out, "modelpool_worker_requests_total", m.name, m.workers->succeeded, ",outcome=\"succeeded\"");
    sample(out, "modelpool_worker_requests_total", m.name, m.workers->retried, ",outcome=\"retried\"");
    sample(out, "modelpool_worker_requests_total", m.name, m.workers->failed_by_crash,
           ",outcome=\"failed_by_crash\"");
  }
  header(out, "modelpool_process_pss_bytes", "gauge", "Proportional set size of the server process.");
  out += "modelpool_process_pss_bytes " + std::to_string(snapshot.process_pss_bytes.value_or(0)) + "\n";
  header(out, "modelpool_registry_loads_total", "counter", "Model weights loaded by the registry.");
  out += "modelpool_registry_loads_total " + std::to_string(snapshot.registry_loads) + "\n";
  header(out, "modelpool_registry_hits_total", "counter",
         "Times a model found its weights already loaded (or loading) and shared them.");
  out += "modelpool_registry_hits_total " + std::to_string(snapshot.registry_hits) + "\n";
  if (const std::optional<MemoryBudgetSnapshot>& b = snapshot.memory_budget) {
    header(out, "modelpool_memory_budget_bytes", "gauge",
           "The memory budget: bytes all models together may hold ([server] memory_budget).");
    out += "modelpool_memory_budget_bytes " + std::to_string(b->limit) + "\n";
    header(out, "modelpool_memory_budget_used_bytes", "gauge",
           "Bytes reserved against the memory budget now: weights, instances, contexts, caches.");
    out += "modelpool_memory_budget_used_bytes " + std::to_string(b->used) + "\n";
  }
  return out;
}

std::string render_json(const MetricsSnapshot& snapshot, JsonDetail detail) {
  std::string out = "{";
  if (detail == JsonDetail::kDashboard) out += "\"time_ms\":" + epoch_ms(snapshot.time) + ",";
  out += "\"process\":{\"pss_bytes\":";
  out += snapshot.process_pss_bytes ? std::to_string(*snapshot.process_pss_bytes) : "null";
  out += "},\"registry\":{\"loads\":" + std::to_string(snapshot.registry_loads) +
         ",\"hits\":" + std::to_string(snapshot.registry_hits) + "},\"memory_budget\":";
  if (const std::optional<MemoryBudgetSnapshot>& b = snapshot.memory_budget) {
    out += "{\"limit_bytes\":" + std::to_string(b->limit) + ",\"used_bytes\":" + std::to_string(b->used) +
           ",\"peak_bytes\":" + std::to_string(b->peak) + ",\"refused\":" + std::to_string(b->refused) + "}";
  } else {
    out += "null";
  }
  out += ",\"models\":{";
  for (std::size_t i = 0; i < snapshot.models.size(); ++i) {
    out += (i ? "," : "") + json_string(snapshot.models[i].name) + ":";
    json_model(out, snapshot.models[i], detail);
  }
  out += "}}";
  return out;
}

}  // namespace modelpool::server
