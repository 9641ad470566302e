// GET /metrics (Prometheus text, version 0.0.4) and GET /metrics.json: one
// MetricsSnapshot (metrics_snapshot.h), rendered either way.
#include "server/api.h"
#include "server/metrics_snapshot.h"

namespace modelpool::server {
namespace {

// What a served model reports about itself, as the engine-neutral
// ModelStats (a Model's stats()).
ModelStats stats_of(const ServedModel& m) {
  ModelStats s;
  s.pool = m.snapshot();
  s.weights_bytes = m.weights_bytes();
  if (const LlmService* llm = m.llm()) {
    const LlmInfo info = llm->info();
    s.instance_bytes = info.slots > 0 ? info.context_bytes * info.instances / info.slots : 0;
    s.kv = llm->kv_usage();
    s.engines = llm->engine_stats();
    s.stalled_for = llm->stalled_for();
  }
  return s;
}

}  // namespace

MetricsSnapshot Api::metrics_snapshot() const {
  MetricsSnapshot snapshot;
  for (const auto& m : models_.ready_models()) {
    snapshot.models.push_back(snapshot_model(m->name(), stats_of(*m), m->metrics));
  }
  if (const std::size_t pss = pss_.last_bytes(); pss > 0) snapshot.process_pss_bytes = pss;
  return snapshot;
}

void Api::metrics(Exchange& ex, bool json) {
  const MetricsSnapshot snapshot = metrics_snapshot();
  if (json) return ex.respond(http::status::ok, render_json(snapshot));
  ex.respond(http::status::ok, render_prometheus(snapshot), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace modelpool::server
