// GET /metrics: Prometheus text exposition format, version 0.0.4.
#include <cstdio>
#include <vector>

#include "modelpool/memory.h"
#include "server/api.h"

namespace modelpool::server {
namespace {

// Bucket bounds in seconds for the latency histograms.
constexpr double kBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                              0.25,  0.5,    1,     2.5,  5,     10,   30, 60};

std::string number(double v) {
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

void histogram(std::string& out, const char* name, const std::string& model, const HistogramSnapshot& h) {
  for (double b : kBounds) {
    out += std::string(name) + "_bucket{model=\"" + model + "\",le=\"" + number(b) + "\"} " +
           std::to_string(h.count_at_most(b)) + "\n";
  }
  out += std::string(name) + "_bucket{model=\"" + model + "\",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
  out += std::string(name) + "_sum{model=\"" + model + "\"} " + number(h.sum_s) + "\n";
  out += std::string(name) + "_count{model=\"" + model + "\"} " + std::to_string(h.count) + "\n";
}

}  // namespace

void Api::metrics(Exchange& ex) {
  const auto models = models_.ready_models();
  // One snapshot per model serves every family below.
  std::vector<ModelStats> stats;
  stats.reserve(models.size());
  for (const auto& m : models) stats.push_back(m->model().stats());
  std::string out;
  header(out, "modelpool_requests_total", "counter",
         "Requests by model, by what the client experienced (ok, cancelled, timeout, rejected, cut_off, error) "
         "and by the HTTP status it got (499: the client went away).");
  for (const auto& m : models) {
    for (const auto& [key, n] : m->metrics.outcomes()) {
      out += "modelpool_requests_total{model=\"" + m->name() + "\",outcome=\"" +
             std::string(outcome_name(key.first)) + "\",code=\"" + std::to_string(key.second) + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  const std::pair<const char*, LatencyHistogram ModelMetrics::*> histograms[] = {
      {"modelpool_queue_wait_seconds", &ModelMetrics::queue_wait},
      {"modelpool_inference_duration_seconds", &ModelMetrics::inference},
      {"modelpool_request_duration_seconds", &ModelMetrics::request_duration},
      {"modelpool_time_to_first_token_seconds", &ModelMetrics::time_to_first_token},
      {"modelpool_time_per_output_token_seconds", &ModelMetrics::time_per_output_token},
  };
  const char* const help[] = {
      "Time from arrival until the model started on the request (batched LLMs: first prompt tokens decoded).",
      "Time from the model starting on the request to its end.",
      "Time from arrival to the end of the answer (end to end).",
      "Time from arrival to the first generated token.",
      "Mean time between generated tokens after the first, one sample per request.",
  };
  for (std::size_t h = 0; h < std::size(histograms); ++h) {
    header(out, histograms[h].first, "histogram", help[h]);
    for (const auto& m : models) histogram(out, histograms[h].first, m->name(), (m->metrics.*histograms[h].second).snapshot());
  }
  header(out, "modelpool_queue_length", "gauge", "Requests waiting for an instance or slot.");
  for (std::size_t i = 0; i < models.size(); ++i) {
    out += "modelpool_queue_length{model=\"" + models[i]->name() + "\"} " + std::to_string(stats[i].pool.queue_length) + "\n";
  }
  header(out, "modelpool_instances", "gauge", "Instances (or batch slots) by state.");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& m = models[i];
    const PoolSnapshot& s = stats[i].pool;
    const std::pair<const char*, std::size_t> states[] = {
        {"creating", s.creating}, {"idle", s.idle}, {"busy", s.busy}, {"checking", s.checking}, {"broken", s.broken}};
    for (const auto& [state, n] : states) {
      out += "modelpool_instances{model=\"" + m->name() + "\",state=\"" + state + "\"} " + std::to_string(n) + "\n";
    }
  }
  header(out, "modelpool_kv_cache_used_cells", "gauge", "KV-cache cells holding tokens now (LLMs).");
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (const auto& kv = stats[i].kv) {
      out += "modelpool_kv_cache_used_cells{model=\"" + models[i]->name() + "\"} " + std::to_string(kv->used_cells) + "\n";
    }
  }
  header(out, "modelpool_kv_cache_cells", "gauge", "KV-cache cells in all of the model's contexts (LLMs).");
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (const auto& kv = stats[i].kv) {
      out += "modelpool_kv_cache_cells{model=\"" + models[i]->name() + "\"} " + std::to_string(kv->total_cells) + "\n";
    }
  }
  header(out, "modelpool_tokens_generated_total", "counter", "Completion tokens generated.");
  for (const auto& m : models) {
    out += "modelpool_tokens_generated_total{model=\"" + m->name() + "\"} " + std::to_string(m->metrics.tokens_generated.load()) + "\n";
  }
  header(out, "modelpool_prompt_tokens_total", "counter", "Prompt tokens processed.");
  for (const auto& m : models) {
    out += "modelpool_prompt_tokens_total{model=\"" + m->name() + "\"} " + std::to_string(m->metrics.prompt_tokens.load()) + "\n";
  }
  header(out, "modelpool_weights_bytes", "gauge", "Bytes of the model's weights, loaded once.");
  for (std::size_t i = 0; i < models.size(); ++i) {
    out += "modelpool_weights_bytes{model=\"" + models[i]->name() + "\"} " + std::to_string(stats[i].weights_bytes) + "\n";
  }
  header(out, "modelpool_process_pss_bytes", "gauge", "Proportional set size of the server process.");
  auto pss = read_pss_bytes();
  out += "modelpool_process_pss_bytes " + std::to_string(pss.ok() ? *pss : 0) + "\n";
  ex.respond(http::status::ok, std::move(out), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace modelpool::server
