// GET /metrics (Prometheus text, version 0.0.4) and GET /metrics.json: one
// MetricsSnapshot (metrics_snapshot.h), rendered either way.
#include "server/api.h"
#include "server/metrics_snapshot.h"

namespace modelpool::server {

MetricsSnapshot Api::metrics_snapshot() const {
  MetricsSnapshot snapshot;
  for (const auto& m : models_.ready_models()) {
    snapshot.models.push_back(snapshot_model(m->name(), m->model().stats(), m->metrics));
  }
  if (const std::size_t pss = pss_.last_bytes(); pss > 0) snapshot.process_pss_bytes = pss;
  snapshot.registry_loads = models_.registry().load_count();
  snapshot.registry_hits = models_.registry().hit_count();
  if (const auto& budget = models_.memory_budget()) snapshot.memory_budget = budget->snapshot();
  return snapshot;
}

void Api::metrics(Exchange& ex, bool json) {
  const MetricsSnapshot snapshot = metrics_snapshot();
  if (json) return ex.respond(http::status::ok, render_json(snapshot));
  ex.respond(http::status::ok, render_prometheus(snapshot), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace modelpool::server
