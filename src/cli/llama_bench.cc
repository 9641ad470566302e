// The LLM benchmark: for each concurrency, that many requests arrive at once
// (prompt_tokens in, max_tokens out, end-of-generation ignored, greedy), and
// we report aggregate and decoding throughput, TTFT, time per output token
// and memory. With --long-prompt-tokens it runs the fair-prefill scenario.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <latch>
#include <mutex>
#include <thread>

#include "cli/bench_command.h"
#include "cli/report.h"
#include "backends/llama/llm_service.h"
#include "modelpool/memory.h"

namespace modelpool::cli {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// A prompt of exactly `tokens` tokens (BOS included), different per `salt`.
Result<std::string> make_prompt(const LlmService& llm, std::size_t tokens, std::size_t salt) {
  static const char* kWords[] = {"the", "river", "stone", "light", "garden", "slow", "window",
                                 "paper", "north", "quiet", "music", "bread", "winter", "door"};
  std::string text = "Request " + std::to_string(salt) + ":";
  std::size_t i = salt;
  for (;;) {
    auto n = llm.count_tokens(text);
    if (!n.ok()) return n.status();
    if (*n + 1 >= tokens) break;
    // Add roughly the missing number of words at once, then top up.
    for (std::size_t k = std::max<std::size_t>(1, (tokens - *n - 1) / 2); k > 0; --k) {
      text += " ";
      text += kWords[i++ % (sizeof kWords / sizeof *kWords)];
    }
  }
  return text;  // may overshoot by a token or two; results report the real count
}

struct LevelResult {
  std::size_t concurrency = 0;
  std::size_t completion_tokens = 0;
  std::size_t prompt_tokens = 0;
  double wall_s = 0;
  double agg_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
  double ttft_p50_s = 0, ttft_p99_s = 0, tpot_p50_s = 0, tpot_p99_s = 0;
  double weights_mb = 0, context_mb = 0, kv_mb = 0, pss_mb = 0;
  std::size_t instances = 0, slots = 0, context_tokens = 0, threads = 0;
  std::size_t errors = 0;
};

LlmOptions service_options(const LlamaBenchOptions& o, std::size_t concurrency,
                           std::size_t longest_prompt) {
  const auto cores = static_cast<std::size_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  LlmOptions lo;
  lo.mode = o.mode == "exclusive" ? LlmMode::kExclusive : LlmMode::kBatched;
  std::size_t per_seq = o.context_per_seq;
  if (per_seq == 0) per_seq = (longest_prompt + o.max_tokens + 8 + 255) / 256 * 256;
  lo.threads = o.threads;
  lo.prefill_chunk = o.prefill_chunk;
  lo.prefill_stall = o.prefill_stall;
  lo.max_queue = 1 << 16;
  if (lo.mode == LlmMode::kBatched) {
    lo.slots = o.slots ? o.slots : concurrency;
    lo.context = lo.slots * per_seq;
  } else {
    lo.instances = o.instances ? o.instances : std::min(concurrency, cores);
    lo.context = per_seq;
    lo.separate_loads = o.separate_loads;
  }
  return lo;
}

ModelSpec model_spec(const LlamaBenchOptions& o) {
  ModelSpec spec;
  spec.name = "bench";
  spec.backend = "llama";
  spec.path = o.model;
  return spec;
}

std::vector<double> gaps_of(const GenerationResult& r) {
  std::vector<double> gaps;
  for (std::size_t i = 1; i < r.token_times_s.size(); ++i) {
    gaps.push_back(r.token_times_s[i] - r.token_times_s[i - 1]);
  }
  return gaps;
}

Result<LevelResult> measure_level(const LlamaBenchOptions& o, std::size_t concurrency) {
  RegistryOptions ro;
  ro.unload_after_idle = std::chrono::milliseconds(0);
  Registry registry(ro);
  PssSampler pss(std::chrono::milliseconds(500));  // sparse: smaps walks steal a core from decoding
  const LlmOptions lo = service_options(o, concurrency, o.prompt_tokens + 4);
  std::fprintf(stderr, "  concurrency %zu: loading (%s, %zu %s)...\n", concurrency, o.mode.c_str(),
               lo.mode == LlmMode::kBatched ? lo.slots : lo.instances,
               lo.mode == LlmMode::kBatched ? "slots" : "contexts");
  auto llm = LlmService::create(registry, model_spec(o), lo);
  if (!llm.ok()) return llm.status();

  std::vector<std::string> prompts;
  for (std::size_t i = 0; i < concurrency; ++i) {
    auto p = make_prompt(**llm, o.prompt_tokens, i);
    if (!p.ok()) return p.status();
    prompts.push_back(std::move(*p));
  }
  GenerationRequest base;
  base.max_tokens = static_cast<int>(o.max_tokens);
  base.temperature = 0;
  base.ignore_eos = true;
  {  // warm-up, not measured
    GenerationRequest w = base;
    w.prompt = prompts[0];
    w.max_tokens = 4;
    if (auto r = (*llm)->generate(w); !r.ok()) return r.status();
  }
  const std::vector<LlmEngineStats> before = (*llm)->engine_stats();

  std::vector<Result<GenerationResult>> results(concurrency, internal_error("not run"));
  std::latch ready(static_cast<std::ptrdiff_t>(concurrency) + 1);
  std::latch go(1);
  Clock::time_point t0;
  {
    std::vector<std::jthread> callers;
    for (std::size_t i = 0; i < concurrency; ++i) {
      callers.emplace_back([&, i] {
        GenerationRequest r = base;
        r.prompt = prompts[i];
        ready.count_down();
        go.wait();
        results[i] = (*llm)->generate(r);
      });
    }
    ready.arrive_and_wait();
    t0 = Clock::now();
    go.count_down();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::vector<LlmEngineStats> after = (*llm)->engine_stats();

  LevelResult lr;
  lr.concurrency = concurrency;
  lr.wall_s = wall;
  std::vector<double> ttft, tpot;
  for (auto& r : results) {
    if (!r.ok()) {
      ++lr.errors;
      std::fprintf(stderr, "  request failed: %s\n", r.status().to_string().c_str());
      continue;
    }
    lr.completion_tokens += static_cast<std::size_t>(r->completion_tokens);
    lr.prompt_tokens += static_cast<std::size_t>(r->prompt_tokens);
    ttft.push_back(r->ttft_s);
    if (r->completion_tokens > 1) {
      tpot.push_back((r->total_s - r->ttft_s) / (r->completion_tokens - 1));
    }
  }
  lr.agg_tokens_per_s = static_cast<double>(lr.completion_tokens) / wall;
  // Decoding rate of each context over pure decoding steps, summed over the
  // contexts (they decode side by side).
  for (std::size_t i = 0; i < after.size() && i < before.size(); ++i) {
    const double tokens = static_cast<double>(after[i].decode_tokens - before[i].decode_tokens);
    const double secs = after[i].decode_s - before[i].decode_s;
    if (secs > 0) lr.decode_tokens_per_s += tokens / secs;
  }
  lr.ttft_p50_s = percentile(ttft, 0.5);
  lr.ttft_p99_s = percentile(ttft, 0.99);
  lr.tpot_p50_s = percentile(tpot, 0.5);
  lr.tpot_p99_s = percentile(tpot, 0.99);
  const LlmInfo info = (*llm)->info();
  lr.weights_mb = static_cast<double>(info.weights_bytes) / kMiB;
  lr.context_mb = static_cast<double>(info.context_bytes) / kMiB;
  lr.kv_mb = static_cast<double>(info.kv_bytes) / kMiB;
  lr.pss_mb = static_cast<double>(pss.peak_bytes()) / kMiB;
  lr.instances = info.instances;
  lr.slots = info.slots;
  lr.context_tokens = info.context_tokens;
  lr.threads = info.threads;
  return lr;
}

struct FairPrefill {
  std::size_t streams = 0;
  std::size_t long_prompt_tokens = 0;
  double long_ttft_s = 0;
  double median_tpot_s = 0;
  // The streams' largest gap between two tokens once the long prompt has
  // arrived (what it costs them), and before (their own start: a burst of
  // 16 prompts prefilled together).
  double max_gap_s = 0;
  double startup_max_gap_s = 0;
  double gap_ratio = 0;
};

Result<FairPrefill> measure_fair_prefill(const LlamaBenchOptions& o, std::size_t streams) {
  Registry registry;
  LlamaBenchOptions so = o;
  so.slots = o.slots ? o.slots : streams + 1;
  const LlmOptions lo = service_options(so, streams + 1, o.long_prompt_tokens + 4);
  std::fprintf(stderr, "  fair prefill: %zu streams, then a %zu-token prompt (%zu slots, %zu context)\n",
               streams, o.long_prompt_tokens, lo.slots, lo.context);
  auto llm = LlmService::create(registry, model_spec(o), lo);
  if (!llm.ok()) return llm.status();

  GenerationRequest base;
  base.max_tokens = static_cast<int>(o.max_tokens);
  base.temperature = 0;
  base.ignore_eos = true;
  std::atomic<std::size_t> started{0};
  std::vector<Result<GenerationResult>> results(streams, internal_error("not run"));
  std::vector<Clock::time_point> called(streams);
  Clock::time_point long_called;
  Result<GenerationResult> long_result = internal_error("not run");
  {
    std::vector<std::jthread> callers;
    for (std::size_t i = 0; i < streams; ++i) {
      auto prompt = make_prompt(**llm, o.prompt_tokens, i);
      if (!prompt.ok()) return prompt.status();
      callers.emplace_back([&, i, text = std::move(*prompt)] {
        GenerationRequest r = base;
        r.prompt = text;
        std::size_t pieces = 0;
        r.on_text = [&](std::string_view) {
          if (++pieces == 4) ++started;
          return true;
        };
        called[i] = Clock::now();
        results[i] = (*llm)->generate(r);
      });
    }
    // Once every stream is decoding, the long prompt arrives.
    while (started.load() < streams) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto long_prompt = make_prompt(**llm, o.long_prompt_tokens, 999);
    if (!long_prompt.ok()) return long_prompt.status();
    GenerationRequest lr = base;
    lr.prompt = *long_prompt;
    lr.max_tokens = 1;
    long_called = Clock::now();
    long_result = (*llm)->generate(lr);
  }
  if (!long_result.ok()) return long_result.status();
  FairPrefill f;
  f.streams = streams;
  f.long_prompt_tokens = static_cast<std::size_t>(long_result->prompt_tokens);
  f.long_ttft_s = long_result->ttft_s;
  std::vector<double> all_gaps;
  for (std::size_t i = 0; i < streams; ++i) {
    const Result<GenerationResult>& r = results[i];
    if (!r.ok()) return r.status();
    // Seconds from stream i's call to the long prompt's.
    const double long_at = std::chrono::duration<double>(long_called - called[i]).count();
    const std::vector<double> gaps = gaps_of(*r);
    for (std::size_t k = 0; k < gaps.size(); ++k) {
      all_gaps.push_back(gaps[k]);
      double& worst = r->token_times_s[k + 1] >= long_at ? f.max_gap_s : f.startup_max_gap_s;
      worst = std::max(worst, gaps[k]);
    }
  }
  f.median_tpot_s = percentile(all_gaps, 0.5);
  f.gap_ratio = f.median_tpot_s > 0 ? f.max_gap_s / f.median_tpot_s : 0;
  return f;
}

int write_json(const std::string& path, boost::json::object doc) {
  doc["machine"] = machine_json();
  if (Status s = write_json_file(path, doc); !s.ok()) {
    std::fprintf(stderr, "modelpool bench: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("results written to %s\n", path.c_str());
  return 0;
}

int run_fair_prefill(const LlamaBenchOptions& o) {
  if (!o.charts_dir.empty()) {
    std::fprintf(stderr, "modelpool bench: the fair-prefill scenario draws no chart (--charts)\n");
  }
  const std::size_t streams = o.concurrency.back();
  auto f = measure_fair_prefill(o, streams);
  if (!f.ok()) {
    std::fprintf(stderr, "modelpool bench: %s\n", f.status().to_string().c_str());
    return 1;
  }
  std::printf("\nfair prefill: %zu streams decoding, a %zu-token prompt arrives (%s)\n", f->streams,
              f->long_prompt_tokens,
              o.prefill_stall > 0
                  ? ("cost model, steps at most " + std::to_string(o.prefill_stall) + "x").c_str()
                  : ("prefill chunk " + std::to_string(o.prefill_chunk)).c_str());
  std::printf("  streams' median time per token  %.4f s\n", f->median_tpot_s);
  std::printf("  streams' largest gap            %.4f s  (%.2fx the median; goal <= 3x)\n",
              f->max_gap_s, f->gap_ratio);
  std::printf("  ... before it arrived           %.4f s  (the streams' own start)\n",
              f->startup_max_gap_s);
  std::printf("  long prompt's time to 1st token %.3f s\n", f->long_ttft_s);
  if (o.json_path.empty()) return 0;
  boost::json::object doc;
  doc["benchmark"] = "fair-prefill";
  doc["model"] = o.model;
  doc["results"] = boost::json::array{boost::json::object{
      {"streams", f->streams},           {"long_prompt_tokens", f->long_prompt_tokens},
      {"prefill_chunk", o.prefill_chunk}, {"prefill_stall", o.prefill_stall},
      {"median_tpot_s", f->median_tpot_s},
      {"max_gap_s", f->max_gap_s},       {"gap_ratio", f->gap_ratio},
      {"startup_max_gap_s", f->startup_max_gap_s}, {"long_ttft_s", f->long_ttft_s}}};
  return write_json(o.json_path, doc);
}

// tokens-per-second and latency (TTFT, TPOT) against concurrency.
std::vector<NamedChart> charts_of(const LlamaBenchOptions& o, const std::vector<LevelResult>& rows) {
  const std::string setup = o.mode + " mode, " + std::to_string(o.prompt_tokens) + "-token prompts, " +
                            std::to_string(o.max_tokens) + " tokens out";
  // What one level varies besides the callers: slots (batched) or contexts.
  const std::string x_label =
      o.mode == "batched"
          ? (o.slots ? "concurrent requests (" + std::to_string(o.slots) + " slots)"
                     : "concurrent requests (= slots)")
          : "concurrent requests (contexts: " +
                (o.instances ? std::to_string(o.instances) : std::string("min(concurrency, cores)")) + ")";
  auto series = [&rows](std::string title, double LevelResult::*field) {
    ChartSeries s;
    s.title = std::move(title);
    for (const LevelResult& r : rows) {
      s.x.push_back(static_cast<double>(r.concurrency));
      s.y.push_back(r.*field);
    }
    return s;
  };
  const bool wide = !rows.empty() && rows.back().concurrency >= 8 * rows.front().concurrency;

  Chart throughput;
  throughput.title = "LLM throughput: " + setup;
  throughput.x_label = x_label;
  throughput.y_label = "tokens/s";
  throughput.log_x = wide;
  throughput.x_tics_at_points = true;
  throughput.series = {series("aggregate (completion tokens / wall time)", &LevelResult::agg_tokens_per_s),
                       series("decoding (decode steps only)", &LevelResult::decode_tokens_per_s)};

  Chart latency;
  latency.title = "LLM latency: " + setup;
  latency.x_label = x_label;
  latency.y_label = "seconds";
  latency.log_x = wide;
  latency.log_y = true;  // time to first token and per token differ by orders of magnitude
  latency.x_tics_at_points = true;
  latency.series = {series("time to first token p50", &LevelResult::ttft_p50_s),
                    series("time to first token p99", &LevelResult::ttft_p99_s),
                    series("time per output token p50", &LevelResult::tpot_p50_s),
                    series("time per output token p99", &LevelResult::tpot_p99_s)};
  return {{"tokens-per-second", std::move(throughput)}, {"latency", std::move(latency)}};
}

}  // namespace

int run_llama_bench(const LlamaBenchOptions& o) {
  if (o.long_prompt_tokens > 0) return run_fair_prefill(o);
  std::vector<LevelResult> rows;
  for (std::size_t c : o.concurrency) {
    auto r = measure_level(o, c);
    if (!r.ok()) {
      std::fprintf(stderr, "modelpool bench: concurrency %zu: %s\n", c, r.status().to_string().c_str());
      return 1;
    }
    rows.push_back(*r);
  }
  std::printf("\n%s mode, %zu-token prompts, %zu tokens out, %s\n\n", o.mode.c_str(),
              o.prompt_tokens, o.max_tokens, o.separate_loads ? "separate loads" : "shared weights");
  std::printf("%5s %5s %6s | %9s %9s | %8s %8s %8s | %8s %8s %8s\n", "conc", "inst", "slots",
              "agg tok/s", "dec tok/s", "TTFT p50", "TTFT p99", "TPOT p50", "weights", "context",
              "PSS");
  for (const LevelResult& r : rows) {
    std::printf("%5zu %5zu %6zu | %9.1f %9.1f | %7.3fs %7.3fs %7.4fs | %5.0f MB %5.1f MB %5.0f MB%s\n",
                r.concurrency, r.instances, r.slots, r.agg_tokens_per_s, r.decode_tokens_per_s,
                r.ttft_p50_s, r.ttft_p99_s, r.tpot_p50_s, r.weights_mb, r.context_mb, r.pss_mb,
                r.errors ? "  ERRORS" : "");
  }
  int rc = 0;
  for (const LevelResult& r : rows) {
    if (r.errors) rc = 1;
  }
  if (!o.charts_dir.empty() && !write_bench_charts(o.charts_dir, charts_of(o, rows))) rc = 1;
  if (o.json_path.empty()) return rc;
  boost::json::array results;
  for (const LevelResult& r : rows) {
    results.push_back(boost::json::object{
        {"concurrency", r.concurrency},
        {"instances", r.instances},
        {"slots", r.slots},
        {"context_tokens", r.context_tokens},
        {"threads", r.threads},
        {"completion_tokens", r.completion_tokens},
        {"prompt_tokens", r.prompt_tokens},
        {"wall_s", r.wall_s},
        {"agg_tokens_per_s", r.agg_tokens_per_s},
        {"decode_tokens_per_s", r.decode_tokens_per_s},
        {"ttft_p50_s", r.ttft_p50_s},
        {"ttft_p99_s", r.ttft_p99_s},
        {"tpot_p50_s", r.tpot_p50_s},
        {"tpot_p99_s", r.tpot_p99_s},
        {"weights_mb", r.weights_mb},
        {"context_mb", r.context_mb},
        {"kv_mb", r.kv_mb},
        {"pss_mb", r.pss_mb},
        {"errors", r.errors}});
  }
  boost::json::object doc;
  doc["benchmark"] = "llm";
  doc["model"] = o.model;
  doc["mode"] = o.mode;
  doc["separate_loads"] = o.separate_loads;
  doc["prompt_tokens"] = o.prompt_tokens;
  doc["max_tokens"] = o.max_tokens;
  doc["results"] = std::move(results);
  const int wrc = write_json(o.json_path, doc);
  return rc ? rc : wrc;
}

}  // namespace modelpool::cli
