#include "server/metrics_snapshot.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

namespace modelpool::server {
namespace {

namespace json = boost::json;

HistogramBuckets two_buckets(std::uint64_t at_1ms, std::uint64_t at_1s, std::uint64_t count, double sum) {
  HistogramBuckets h;
  h.bounds_s = {0.001, 1};
  h.cumulative = {at_1ms, at_1s};
  h.count = count;
  h.sum_s = sum;
  return h;
}

// A text model and a pool model, every field set.
MetricsSnapshot hand_built() {
  ModelSnapshot llm;
  llm.name = "default";
  llm.requests = {{Outcome::kOk, 200, 7}, {Outcome::kCancelled, 499, 2}};
  llm.tokens_generated = 120;
  llm.prompt_tokens = 45;
  llm.stream_overflows = 1;
  llm.queue_length = 3;
  llm.instances = {0, 5, 3, 0, 0};
  llm.kv = KvUsage{96, 2048};
  llm.prefix_cache = PrefixCacheStats{.hit_tokens = 960,
                                      .miss_tokens = 320,
                                      .evictions = 7,
                                      .tokens = 4096,
                                      .bytes = 2097152,
                                      .max_tokens = 8192,
                                      .max_bytes = 268435456};
  llm.weights_bytes = 4194304;
  llm.instance_bytes = 65536;
  llm.queue_wait = two_buckets(1, 2, 3, 0.25);
  llm.inference = two_buckets(0, 1, 2, 1.5);
  llm.request_duration = two_buckets(0, 0, 4, 12.125);
  llm.time_to_first_token = two_buckets(2, 2, 2, 0.0015);
  llm.time_per_output_token = two_buckets(9, 9, 9, 0.0045);
  ModelSnapshot echo;
  echo.name = "echo";
  echo.requests = {{Outcome::kRejected, 429, 4}};
  echo.instances = {1, 2, 0, 0, 1};
  echo.autoscale = {1, 6, 4, true, 9};
  echo.queue_wait = echo.inference = echo.request_duration = echo.time_to_first_token =
      echo.time_per_output_token = two_buckets(0, 0, 0, 0);
  echo.unready_reason = "model 'echo' is crash-looping: \"3\" in a row\nlast: SIGSEGV";
  WorkerStats w;
  w.pids = {101, 102};
  w.started = 5;
  w.restarts = 3;
  w.crashes = {{"SIGKILL", 2}, {"exit 3", 1}};
  w.heartbeat_kills = 1;
  w.hang_kills = 1;
  w.succeeded = 40;
  w.retried = 2;
  w.failed_by_crash = 1;
  w.last_exit = "worker 99 exited with status 3";
  echo.workers = w;
  echo.workers_pss_bytes = 7340032;
  MetricsSnapshot s;
  s.models = {llm, echo};
  s.process_pss_bytes = 123456789;
  s.memory_budget = MemoryBudgetSnapshot{std::size_t{8} << 30, std::size_t{1} << 30, std::size_t{2} << 30, 9};
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const std::string& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

TEST(MetricsSnapshotTest, PrometheusListsEveryFamilyInOrder) {
  const std::string text = render_prometheus(hand_built());
  std::vector<std::string> types;
  for (const std::string& l : lines_of(text)) {
    if (l.rfind("# TYPE ", 0) == 0) types.push_back(l.substr(7));
  }
  const std::vector<std::string> want = {
      "modelpool_requests_total counter",
      "modelpool_queue_wait_seconds histogram",
      "modelpool_inference_duration_seconds histogram",
      "modelpool_request_duration_seconds histogram",
      "modelpool_time_to_first_token_seconds histogram",
      "modelpool_time_per_output_token_seconds histogram",
      "modelpool_queue_length gauge",
      "modelpool_instances gauge",
      "modelpool_instances_desired gauge",
      "modelpool_instances_max gauge",
      "modelpool_memory_budget_limited gauge",
      "modelpool_memory_budget_refusals_total counter",
      "modelpool_kv_cache_used_cells gauge",
      "modelpool_kv_cache_cells gauge",
      "modelpool_tokens_generated_total counter",
      "modelpool_prompt_tokens_total counter",
      "modelpool_prefix_cache_hit_tokens_total counter",
      "modelpool_prefix_cache_miss_tokens_total counter",
      "modelpool_prefix_cache_evictions_total counter",
      "modelpool_prefix_cache_tokens gauge",
      "modelpool_prefix_cache_bytes gauge",
      "modelpool_stream_overflows_total counter",
      "modelpool_weights_bytes gauge",
      "modelpool_model_ready gauge",
      "modelpool_model_unready_info gauge",
      "modelpool_worker_processes gauge",
      "modelpool_worker_pss_bytes gauge",
      "modelpool_worker_restarts_total counter",
      "modelpool_worker_crashes_total counter",
      "modelpool_worker_kills_total counter",
      "modelpool_worker_requests_total counter",
      "modelpool_process_pss_bytes gauge",
      "modelpool_registry_loads_total counter",
      "modelpool_registry_hits_total counter",
      "modelpool_memory_budget_bytes gauge",
      "modelpool_memory_budget_used_bytes gauge",
  };
  EXPECT_EQ(types, want);
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsSnapshotTest, PrometheusSamples) {
  const std::string text = render_prometheus(hand_built());
  for (const char* line : {
           "# HELP modelpool_queue_length Requests waiting for an instance or slot.",
           "modelpool_requests_total{model=\"default\",outcome=\"ok\",code=\"200\"} 7",
           "modelpool_requests_total{model=\"default\",outcome=\"cancelled\",code=\"499\"} 2",
           "modelpool_requests_total{model=\"echo\",outcome=\"rejected\",code=\"429\"} 4",
           "modelpool_queue_wait_seconds_bucket{model=\"default\",le=\"0.001\"} 1",
           "modelpool_queue_wait_seconds_bucket{model=\"default\",le=\"1\"} 2",
           "modelpool_queue_wait_seconds_bucket{model=\"default\",le=\"+Inf\"} 3",
           "modelpool_queue_wait_seconds_sum{model=\"default\"} 0.25",
           "modelpool_queue_wait_seconds_count{model=\"default\"} 3",
           "modelpool_request_duration_seconds_sum{model=\"default\"} 12.125",
           "modelpool_time_to_first_token_seconds_sum{model=\"default\"} 0.0015",
           "modelpool_time_per_output_token_seconds_count{model=\"echo\"} 0",
           "modelpool_queue_length{model=\"default\"} 3",
           "modelpool_instances{model=\"default\",state=\"idle\"} 5",
           "modelpool_instances{model=\"echo\",state=\"broken\"} 1",
           "modelpool_instances_desired{model=\"echo\"} 4",
           "modelpool_instances_max{model=\"echo\"} 6",
           "modelpool_memory_budget_limited{model=\"echo\"} 1",
           "modelpool_memory_budget_limited{model=\"default\"} 0",
           "modelpool_memory_budget_refusals_total{model=\"echo\"} 9",
           "modelpool_memory_budget_bytes 8589934592",
           "modelpool_memory_budget_used_bytes 1073741824",
           "modelpool_kv_cache_used_cells{model=\"default\"} 96",
           "modelpool_kv_cache_cells{model=\"default\"} 2048",
           "modelpool_tokens_generated_total{model=\"default\"} 120",
           "modelpool_prompt_tokens_total{model=\"default\"} 45",
           "modelpool_prefix_cache_hit_tokens_total{model=\"default\"} 960",
           "modelpool_prefix_cache_miss_tokens_total{model=\"default\"} 320",
           "modelpool_prefix_cache_evictions_total{model=\"default\"} 7",
           "modelpool_prefix_cache_tokens{model=\"default\"} 4096",
           "modelpool_prefix_cache_bytes{model=\"default\"} 2097152",
           "modelpool_stream_overflows_total{model=\"default\"} 1",
           "modelpool_stream_overflows_total{model=\"echo\"} 0",
           "modelpool_weights_bytes{model=\"default\"} 4194304",
           "modelpool_process_pss_bytes 123456789",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\nin:\n" << text;
  }
  // A model without a KV cache has no KV series, nor prefix-cache ones.
  EXPECT_EQ(text.find("modelpool_kv_cache_cells{model=\"echo\"}"), std::string::npos);
  EXPECT_EQ(text.find("modelpool_prefix_cache_tokens{model=\"echo\"}"), std::string::npos);
}

TEST(MetricsSnapshotTest, PrometheusWorkerAndReadinessSamples) {
  const std::string text = render_prometheus(hand_built());
  for (const char* line : {
           "modelpool_model_ready{model=\"default\"} 1",
           "modelpool_model_ready{model=\"echo\"} 0",
           // The reason as a label value: quotes and newlines escaped.
           "modelpool_model_unready_info{model=\"echo\",reason=\"model 'echo' is crash-looping: \\\"3\\\" in a "
           "row\\nlast: SIGSEGV\"} 1",
           "modelpool_worker_processes{model=\"echo\"} 2",
           "modelpool_worker_pss_bytes{model=\"echo\"} 7340032",
           "modelpool_worker_restarts_total{model=\"echo\"} 3",
           "modelpool_worker_crashes_total{model=\"echo\",cause=\"SIGKILL\"} 2",
           "modelpool_worker_crashes_total{model=\"echo\",cause=\"exit 3\"} 1",
           "modelpool_worker_kills_total{model=\"echo\",reason=\"heartbeat\"} 1",
           "modelpool_worker_kills_total{model=\"echo\",reason=\"hang\"} 1",
           "modelpool_worker_requests_total{model=\"echo\",outcome=\"succeeded\"} 40",
           "modelpool_worker_requests_total{model=\"echo\",outcome=\"retried\"} 2",
           "modelpool_worker_requests_total{model=\"echo\",outcome=\"failed_by_crash\"} 1",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\nin:\n" << text;
  }
  // A model in threads has no worker series, and a ready one no reason.
  EXPECT_EQ(text.find("modelpool_worker_processes{model=\"default\"}"), std::string::npos);
  EXPECT_EQ(text.find("modelpool_model_unready_info{model=\"default\""), std::string::npos);
  // An unknown PSS is 0, as before the first sample.
  MetricsSnapshot unknown;
  EXPECT_TRUE(has_line(render_prometheus(unknown), "modelpool_process_pss_bytes 0"));
}

TEST(MetricsSnapshotTest, JsonHoldsTheSameNumbers) {
  const std::string text = render_json(hand_built());
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  ASSERT_FALSE(ec) << ec.message() << "\n" << text;
  EXPECT_EQ(doc.at("process").at("pss_bytes").to_number<std::uint64_t>(), 123456789u);
  const json::object& models = doc.at("models").as_object();
  ASSERT_EQ(models.size(), 2u);
  const json::object& d = models.at("default").as_object();
  const json::array& requests = d.at("requests").as_array();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].at("outcome").as_string(), "ok");
  EXPECT_EQ(requests[0].at("code").to_number<int>(), 200);
  EXPECT_EQ(requests[0].at("count").to_number<int>(), 7);
  EXPECT_EQ(requests[1].at("outcome").as_string(), "cancelled");
  EXPECT_EQ(d.at("tokens_generated").to_number<int>(), 120);
  EXPECT_EQ(d.at("prompt_tokens").to_number<int>(), 45);
  EXPECT_EQ(d.at("stream_overflows").to_number<int>(), 1);
  EXPECT_EQ(d.at("queue_length").to_number<int>(), 3);
  EXPECT_EQ(d.at("instances").at("busy").to_number<int>(), 3);
  EXPECT_EQ(d.at("kv_cache").at("used_cells").to_number<int>(), 96);
  EXPECT_EQ(d.at("kv_cache").at("cells").to_number<int>(), 2048);
  const json::value& pc = d.at("prefix_cache");
  EXPECT_EQ(pc.at("hit_tokens").to_number<int>(), 960);
  EXPECT_EQ(pc.at("miss_tokens").to_number<int>(), 320);
  EXPECT_EQ(pc.at("evictions").to_number<int>(), 7);
  EXPECT_EQ(pc.at("tokens").to_number<int>(), 4096);
  EXPECT_EQ(pc.at("bytes").to_number<int>(), 2097152);
  EXPECT_EQ(pc.at("max_tokens").to_number<int>(), 8192);
  EXPECT_EQ(pc.at("max_bytes").to_number<int>(), 268435456);
  EXPECT_EQ(d.at("memory").at("weights_bytes").to_number<int>(), 4194304);
  EXPECT_EQ(d.at("memory").at("instance_bytes").to_number<int>(), 65536);
  const json::object& histograms = d.at("histograms").as_object();
  for (const char* name : {"queue_wait_seconds", "inference_duration_seconds", "request_duration_seconds",
                           "time_to_first_token_seconds", "time_per_output_token_seconds"}) {
    EXPECT_TRUE(histograms.contains(name)) << name;
  }
  const json::value& q = histograms.at("queue_wait_seconds");
  ASSERT_EQ(q.at("le").as_array().size(), 2u);
  EXPECT_EQ(q.at("le").as_array()[0].to_number<double>(), 0.001);
  EXPECT_EQ(q.at("le").as_array()[1].to_number<double>(), 1.0);
  EXPECT_EQ(q.at("counts").as_array(), (json::array{1, 2}));
  EXPECT_EQ(q.at("count").to_number<int>(), 3);
  EXPECT_EQ(q.at("sum").to_number<double>(), 0.25);
  EXPECT_TRUE(models.at("echo").at("kv_cache").is_null());
  EXPECT_TRUE(models.at("echo").at("prefix_cache").is_null());
  EXPECT_TRUE(d.at("ready").as_bool());
  EXPECT_TRUE(d.at("unready_reason").is_null());
  EXPECT_TRUE(d.at("workers").is_null());
  const json::object& e = models.at("echo").as_object();
  EXPECT_FALSE(e.at("ready").as_bool());
  EXPECT_EQ(e.at("unready_reason").as_string(), "model 'echo' is crash-looping: \"3\" in a row\nlast: SIGSEGV");
  const json::object& w = e.at("workers").as_object();
  EXPECT_EQ(w.at("pids").as_array(), (json::array{101, 102}));
  EXPECT_EQ(w.at("pss_bytes").to_number<int>(), 7340032);
  EXPECT_EQ(w.at("started").to_number<int>(), 5);
  EXPECT_EQ(w.at("restarts").to_number<int>(), 3);
  EXPECT_EQ(w.at("crashes").at("SIGKILL").to_number<int>(), 2);
  EXPECT_EQ(w.at("crashes").at("exit 3").to_number<int>(), 1);
  EXPECT_EQ(w.at("heartbeat_kills").to_number<int>(), 1);
  EXPECT_EQ(w.at("hang_kills").to_number<int>(), 1);
  EXPECT_EQ(w.at("requests").at("succeeded").to_number<int>(), 40);
  EXPECT_EQ(w.at("requests").at("retried").to_number<int>(), 2);
  EXPECT_EQ(w.at("requests").at("failed_by_crash").to_number<int>(), 1);
  EXPECT_EQ(w.at("last_exit").as_string(), "worker 99 exited with status 3");
  const json::object& a = e.at("autoscale").as_object();
  EXPECT_EQ(a.at("min").to_number<int>(), 1);
  EXPECT_EQ(a.at("max").to_number<int>(), 6);
  EXPECT_EQ(a.at("desired").to_number<int>(), 4);
  EXPECT_TRUE(a.at("budget_limited").as_bool());
  EXPECT_EQ(a.at("growth_refused").to_number<int>(), 9);
  const json::object& budget = doc.at("memory_budget").as_object();
  EXPECT_EQ(budget.at("limit_bytes").to_number<std::int64_t>(), std::int64_t{8} << 30);
  EXPECT_EQ(budget.at("used_bytes").to_number<std::int64_t>(), std::int64_t{1} << 30);
  EXPECT_EQ(budget.at("peak_bytes").to_number<std::int64_t>(), std::int64_t{2} << 30);
  EXPECT_EQ(budget.at("refused").to_number<int>(), 9);
  EXPECT_NE(text.find("\"le\":[0.001,1]"), std::string::npos) << text;  // shortest decimals

  MetricsSnapshot unknown;
  unknown.registry_loads = 3;
  unknown.registry_hits = 2;
  EXPECT_EQ(render_json(unknown),
            "{\"process\":{\"pss_bytes\":null},\"registry\":{\"loads\":3,\"hits\":2},\"memory_budget\":null,"
            "\"models\":{}}");
}

TEST(MetricsSnapshotTest, SnapshotOfAModelReadsItsStatsAndMetrics) {
  ModelMetrics metrics;
  metrics.count(Outcome::kOk, 200);
  metrics.count(Outcome::kOk, 200);
  metrics.count(Outcome::kTimeout, 504);
  metrics.tokens_generated = 10;
  metrics.prompt_tokens = 4;
  metrics.stream_overflows = 2;
  metrics.queue_wait.record(std::chrono::microseconds(500));
  metrics.queue_wait.record(std::chrono::milliseconds(200));
  ModelStats stats;
  stats.pool.queue_length = 6;
  stats.pool.busy = 2;
  stats.pool.idle = 1;
  stats.weights_bytes = 1000;
  stats.kv = KvUsage{3, 64};
  stats.prefix_cache = PrefixCacheStats{.hit_tokens = 32};
  const ModelSnapshot m = snapshot_model("m", stats, metrics);
  EXPECT_EQ(m.name, "m");
  ASSERT_EQ(m.requests.size(), 2u);
  EXPECT_EQ(m.requests[0].count, 2u);
  EXPECT_EQ(m.requests[1].code, 504);
  EXPECT_EQ(m.tokens_generated, 10u);
  EXPECT_EQ(m.prompt_tokens, 4u);
  EXPECT_EQ(m.stream_overflows, 2u);
  EXPECT_EQ(m.queue_length, 6u);
  EXPECT_EQ(m.instances.busy, 2u);
  EXPECT_EQ(m.instances.idle, 1u);
  EXPECT_EQ(m.weights_bytes, 1000u);
  ASSERT_TRUE(m.kv.has_value());
  EXPECT_EQ(m.kv->total_cells, 64u);
  ASSERT_TRUE(m.prefix_cache.has_value());
  EXPECT_EQ(m.prefix_cache->hit_tokens, 32u);
  ASSERT_EQ(m.queue_wait.bounds_s.size(), kLatencyBounds.size());
  EXPECT_EQ(m.queue_wait.count, 2u);
  EXPECT_EQ(m.queue_wait.cumulative.front(), 1u);  // <= 1 ms
  EXPECT_EQ(m.queue_wait.cumulative.back(), 2u);   // <= 60 s
  EXPECT_EQ(m.inference.count, 0u);
}

TEST(MetricsSnapshotTest, DashboardJsonAddsInstancesAndRecentErrorsOnlyWhenAsked) {
  MetricsSnapshot s = hand_built();
  s.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  s.models[1].instance_list = {{1, InstanceState::kBusy, "pid 101"},
                               {2, InstanceState::kIdle, "pid 102"},
                               {4, InstanceState::kRestarting, ""}};
  RecentError e;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000001));
  e.code = 504;
  e.message = "deadline passed \"quoted\"";
  s.models[1].recent_errors = {e};

  // /metrics.json: the numbers only, as scrapers always had them.
  const json::value counts = json::parse(render_json(s));
  EXPECT_FALSE(counts.as_object().contains("time_ms"));
  EXPECT_FALSE(counts.at("models").at("echo").as_object().contains("instance_list"));
  EXPECT_FALSE(counts.at("models").at("echo").as_object().contains("recent_errors"));

  const std::string text = render_json(s, JsonDetail::kDashboard);
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  ASSERT_FALSE(ec) << ec.message() << "\n" << text;
  EXPECT_EQ(doc.at("time_ms").to_number<std::int64_t>(), 1700000000123);
  const json::object& echo = doc.at("models").at("echo").as_object();
  const json::array& list = echo.at("instance_list").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at("id").to_number<int>(), 1);
  EXPECT_EQ(list[0].at("state").as_string(), "busy");
  EXPECT_EQ(list[0].at("label").as_string(), "pid 101");
  EXPECT_EQ(list[1].at("state").as_string(), "idle");
  EXPECT_EQ(list[2].at("state").as_string(), "restarting");
  EXPECT_TRUE(list[2].at("label").is_null());
  const json::array& errors = echo.at("recent_errors").as_array();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].at("time_ms").to_number<std::int64_t>(), 1700000000001);
  EXPECT_EQ(errors[0].at("code").to_number<int>(), 504);
  EXPECT_EQ(errors[0].at("message").as_string(), "deadline passed \"quoted\"");
  // A model without instances or errors has empty lists, and the counts
  // are the same numbers /metrics.json has.
  const json::object& d = doc.at("models").at("default").as_object();
  EXPECT_TRUE(d.at("instance_list").as_array().empty());
  EXPECT_TRUE(d.at("recent_errors").as_array().empty());
  EXPECT_EQ(d.at("instances"), counts.at("models").at("default").at("instances"));
}

TEST(MetricsSnapshotTest, SnapshotOfAModelCarriesItsInstancesAndRecentErrors) {
  ModelMetrics metrics;
  metrics.record_error(429, "queue is full");
  ModelStats stats;
  stats.pool.busy = 1;
  stats.pool.instances = {{7, InstanceState::kBusy, "pid 9"}};
  const ModelSnapshot m = snapshot_model("m", stats, metrics);
  ASSERT_EQ(m.instance_list.size(), 1u);
  EXPECT_EQ(m.instance_list[0].id, 7u);
  EXPECT_EQ(m.instance_list[0].label, "pid 9");
  ASSERT_EQ(m.recent_errors.size(), 1u);
  EXPECT_EQ(m.recent_errors[0].code, 429);
}

}  // namespace
}  // namespace modelpool::server
