// MetricsSnapshot: everything /metrics and /metrics.json report, read once
// into plain values, then rendered either way from the same snapshot.
//
//   MetricsSnapshot s;
//   s.models.push_back(snapshot_model(name, model_stats, model_metrics));
//   s.process_pss_bytes = sampler.last_bytes();
//   std::string text = render_prometheus(s);  // GET /metrics
//   std::string json = render_json(s);        // GET /metrics.json
//
// Per model: counters (requests by outcome and status, tokens, stream
// overflows), gauges (queue length, instances by state, KV-cache cells),
// memory (weights, one instance's own state) and latency histograms at the
// fixed bounds kLatencyBounds. The renderers only format: building a
// snapshot reads the models, rendering reads nothing else.
//
// Prometheus text (version 0.0.4), one family per metric, in this order:
//   modelpool_requests_total{model,outcome,code}          counter
//   modelpool_queue_wait_seconds{model}                   histogram
//   modelpool_inference_duration_seconds{model}           histogram
//   modelpool_request_duration_seconds{model}             histogram
//   modelpool_time_to_first_token_seconds{model}          histogram
//   modelpool_time_per_output_token_seconds{model}        histogram
//   modelpool_queue_length{model}                         gauge
//   modelpool_instances{model,state}                      gauge
//   modelpool_instances_desired{model}                    gauge (what the autoscaler wants)
//   modelpool_instances_max{model}                        gauge
//   modelpool_memory_budget_limited{model}                gauge (1 while the budget refuses growth)
//   modelpool_memory_budget_refusals_total{model}         counter (instances refused)
//   modelpool_kv_cache_used_cells{model}                  gauge (text models)
//   modelpool_kv_cache_cells{model}                       gauge (text models)
//   modelpool_tokens_generated_total{model}               counter
//   modelpool_prompt_tokens_total{model}                  counter
//   modelpool_prefix_cache_hit_tokens_total{model}        counter (text models with a prefix cache)
//   modelpool_prefix_cache_miss_tokens_total{model}       counter
//   modelpool_prefix_cache_evictions_total{model}         counter (blocks)
//   modelpool_prefix_cache_tokens{model}                  gauge
//   modelpool_prefix_cache_bytes{model}                   gauge
//   modelpool_stream_overflows_total{model}               counter
//   modelpool_weights_bytes{model}                        gauge
//   modelpool_model_ready{model}                          gauge (1 ready, 0 not)
//   modelpool_model_unready_info{model,reason}            gauge (1; only while unready)
//   modelpool_worker_processes{model}                     gauge (isolation = "process")
//   modelpool_worker_pss_bytes{model}                     gauge (summed over the workers)
//   modelpool_worker_restarts_total{model}                counter
//   modelpool_worker_crashes_total{model,cause}           counter (cause: SIGKILL, exit 1, ...)
//   modelpool_worker_kills_total{model,reason}            counter (heartbeat, hang)
//   modelpool_worker_requests_total{model,outcome}        counter (succeeded, retried,
//   failed_by_crash) modelpool_process_pss_bytes                           gauge (0: unknown)
//   modelpool_registry_loads_total                        counter (weights loaded)
//   modelpool_registry_hits_total                         counter (weights shared instead)
//   modelpool_memory_budget_bytes                         gauge (with a budget only)
//   modelpool_memory_budget_used_bytes                    gauge (with a budget only)
//
// JSON (the same numbers; the shape is documented in api.h):
//   {"process": {"pss_bytes": N|null}, "registry": {"loads": N, "hits": N},
//    "memory_budget": {"limit_bytes", "used_bytes", "peak_bytes", "refused"}|null,
//    "models": {"NAME": {"requests": [{"outcome", "code", "count"}],
//                        "tokens_generated", "prompt_tokens", "stream_overflows",
//                        "queue_length", "autoscale": {"min", "max", "desired",
//                          "budget_limited", "growth_refused"}, "instances": {"creating", "idle", "busy",
//                        "checking", "broken"}, "kv_cache": {"used_cells", "cells"}|null,
//                        "prefix_cache": {"hit_tokens", "miss_tokens", "evictions",
//                          "tokens", "bytes", "max_tokens", "max_bytes"}|null,
//                        "memory": {"weights_bytes", "instance_bytes"},
//                        "ready": bool, "unready_reason": "..."|null,
//                        "workers": {"pids", "pss_bytes", "started", "restarts",
//                          "crashes": {"SIGKILL": N, ...}, "heartbeat_kills", "hang_kills",
//                          "requests": {"succeeded", "retried", "failed_by_crash"},
//                          "last_exit"}|null,
//                        "histograms": {"queue_wait_seconds": {"le": [...],
//                          "counts": [...], "count", "sum"}, ...}}}}
// With JsonDetail::kDashboard (GET /dashboard.json, which needs the API key
// when there is one) the document also has "time_ms" (the server's clock,
// milliseconds since the Unix epoch) at the top, and per model:
//   "instance_list": [{"id", "state": "creating"|"warming"|"restarting"|"idle"|
//                      "busy"|"checking"|"broken", "label": "..."|null}],
//   "recent_errors": [{"time_ms", "code", "message"}]   (oldest first)
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "modelpool/histogram.h"
#include "modelpool/memory_budget.h"
#include "modelpool/model.h"
#include "server/model_metrics.h"

namespace modelpool::server {

// Bucket upper bounds in seconds of the latency histograms, ascending (the
// +Inf bucket is every sample).
inline constexpr std::array<double, 15> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,  0.1,    0.25,  0.5,  1,
                                                          2.5,   5,      10,    30,   60};

// A histogram at fixed bounds: cumulative[i] samples were <= bounds_s[i].
struct HistogramBuckets {
  std::vector<double> bounds_s;
  std::vector<std::uint64_t> cumulative;  // one per bound
  std::uint64_t count = 0;                // every sample (the +Inf bucket)
  double sum_s = 0;
};

// `h` at `bounds_s` (at the histogram's own bucket resolution).
HistogramBuckets buckets_of(const HistogramSnapshot& h, std::span<const double> bounds_s);

// The pool's bounds and what its autoscaler wants (PoolSnapshot).
struct AutoscaleState {
  std::size_t min = 0;
  std::size_t max = 0;
  std::size_t desired = 0;
  bool budget_limited = false;
  std::uint64_t growth_refused = 0;
};

struct InstanceCounts {
  std::size_t creating = 0;
  std::size_t idle = 0;
  std::size_t busy = 0;
  std::size_t checking = 0;
  std::size_t broken = 0;
};

// One model's metrics.
struct ModelSnapshot {
  std::string name;
  // Counters.
  std::vector<OutcomeCount> requests;  // sorted as ModelMetrics::outcomes()
  std::uint64_t tokens_generated = 0;
  std::uint64_t prompt_tokens = 0;
  std::uint64_t stream_overflows = 0;
  // Gauges.
  std::size_t queue_length = 0;
  InstanceCounts instances;
  AutoscaleState autoscale;
  std::optional<KvUsage> kv;  // text models only
  std::optional<PrefixCacheStats> prefix_cache;  // text models with a prefix cache
  // Memory.
  std::size_t weights_bytes = 0;
  std::size_t instance_bytes = 0;
  // Readiness: empty when the model can serve, else why not (a crash loop).
  std::string unready_reason;
  // isolation = "process": its workers, and their summed PSS (none: not
  // known).
  std::optional<WorkerStats> workers;
  std::optional<std::size_t> workers_pss_bytes;
  // Latencies (ModelMetrics' histograms of the same names).
  HistogramBuckets queue_wait;
  HistogramBuckets inference;
  HistogramBuckets request_duration;
  HistogramBuckets time_to_first_token;
  HistogramBuckets time_per_output_token;
  // Each instance (or batch slot) and what it does, in id order (PoolSnapshot::
  // instances); rendered in the dashboard's JSON only.
  std::vector<InstanceView> instance_list;
  // The last failed requests, oldest first (ModelMetrics::recent_errors);
  // rendered in the dashboard's JSON only: their messages may quote requests.
  std::vector<RecentError> recent_errors;
};

struct MetricsSnapshot {
  std::vector<ModelSnapshot> models;  // rendered in this order
  std::optional<std::size_t> process_pss_bytes;  // none: not known
  // The registry's weight loads, and the times a model found its weights
  // already loaded (or loading) and shared them.
  std::uint64_t registry_loads = 0;
  std::uint64_t registry_hits = 0;
  std::optional<MemoryBudgetSnapshot> memory_budget;  // none: no budget
  // When it was read (the dashboard's rates are differences over this clock).
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
};

// How much render_json writes: kCounts is /metrics.json (the numbers
// /metrics has, open to scrapers); kDashboard adds the instance list and the
// recent errors (GET /dashboard.json, behind the API key).
enum class JsonDetail { kCounts, kDashboard };

// A model's snapshot from what the model reports about itself (`stats`)
// and what the server recorded of its requests (`metrics`).
ModelSnapshot snapshot_model(std::string name, const ModelStats& stats, const ModelMetrics& metrics);

// The Prometheus text exposition of `snapshot` (families above).
std::string render_prometheus(const MetricsSnapshot& snapshot);
// The JSON document of `snapshot` (shape above).
std::string render_json(const MetricsSnapshot& snapshot, JsonDetail detail = JsonDetail::kCounts);

}  // namespace modelpool::server
