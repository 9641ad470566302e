// GET / (a link to the dashboard), GET /dashboard and its files (embedded:
// dashboard_assets.h), GET /dashboard.json (the page's data).
#include "server/api.h"
#include "server/dashboard_assets.h"
#include "server/metrics_snapshot.h"

namespace modelpool::server {
namespace {

// The page runs only its own script and talks only to this server.
constexpr std::string_view kSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

}  // namespace

bool Api::dashboard_file(Exchange& ex, std::string_view path) {
  if (path == "/") {
    ex.respond(http::status::found, "<a href=\"/dashboard\">dashboard</a>\n",
               "text/html; charset=utf-8", {{"Location", "/dashboard"}});
    return true;
  }
  if (path == "/dashboard/") path = "/dashboard";
  for (const StaticAsset& asset : dashboard_assets()) {
    if (asset.path != path) continue;
    ex.respond(http::status::ok, std::string(asset.body), asset.content_type,
               {{"Cache-Control", "no-cache"},
                {"X-Content-Type-Options", "nosniff"},
                {"Content-Security-Policy", std::string(kSecurityPolicy)}});
    return true;
  }
  return false;
}

void Api::dashboard_json(Exchange& ex) {
  ex.respond(http::status::ok, render_json(metrics_snapshot(), JsonDetail::kDashboard),
             "application/json", {{"Cache-Control", "no-store"}});
}

}  // namespace modelpool::server
