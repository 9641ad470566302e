#include "cli/advise/advise_command.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>

#include "cli/advise/advise_charts.h"
#include "cli/advise/measure.h"
#include "cli/advise/model_block.h"
#include "cli/advise/recommend.h"
#include "cli/advise/verify.h"
#include "cli/configured_model.h"
#include "cli/report.h"
#include "server/config.h"

namespace modelpool::cli {
namespace {

using namespace advise;

struct AdviseArgs {
  std::string config_path;
  std::string model;
  std::size_t concurrency = 0;
  std::string arrival = "burst";
  double rate = 0;
  double slo_p99_s = 0;
  std::string memory_budget;
  bool quick = false;
  bool verify = false;
  double time_limit_s = 0;
  std::size_t verify_requests = 0;
  std::string mode, isolation;  // only these ways  // poisson; 0: about a minute's worth (20 s with --quick)
  WorkloadOptions workload;
  std::string toml_path, json_path, charts_dir;
};

// "4GB", "4 GiB", "512M", "1.5g", "1073741824": bytes (K, M, G, T are
// powers of 1024, with or without "B"/"iB").
Result<double> parse_bytes(const std::string& text) {
  static const std::regex re(R"(^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    return invalid_argument_error("--memory-budget: expected a size such as 4GB or 512MiB, got '" + text + "'");
  }
  double v = std::stod(m[1]);
  const std::string unit = m[2];
  const std::string units = "kmgt";
  if (!unit.empty()) v *= std::pow(1024.0, static_cast<double>(units.find(static_cast<char>(std::tolower(unit[0]))) + 1));
  return v;
}

std::string secs(double s) {
  char buf[32];
  if (!std::isfinite(s)) return "inf";
  std::snprintf(buf, sizeof buf, s < 1 ? "%.0f ms" : "%.2f s", s < 1 ? s * 1000 : s);
  return buf;
}

void print_measurement(const Measurement& m) {
  std::printf("\nmeasured in %.0f s (%s; %zu cores):\n\n", m.wall_s, m.workload.c_str(), m.cores);
  std::printf("  %-20s | %7s | %10s | %10s | %10s\n", "way", "at once", "a request", "requests/s", "memory");
  for (const Way& w : m.ways) {
    if (!w.usable()) continue;
    for (const Level& l : w.levels) {
      std::printf("  %-20s | %7zu | %10s | %10.2f | %10s\n", w.label().c_str(), l.k, secs(l.service_s).c_str(),
                  static_cast<double>(l.k) / l.service_s, format_bytes(l.pss_bytes).c_str());
    }
    std::printf("  %-20s   load %.2f s, one more %s %.2f s; stopped: %s\n", "", w.load_s,
                w.mode == "batched" ? "engine" : "instance", w.instance_s, w.stopped.c_str());
  }
}

void print_options(const Advice& a) {
  std::printf("\npredicted for the recommended way (%s):\n\n", a.chosen.way->label().c_str());
  std::printf("  %5s | %10s | %10s | %10s | %10s |\n", "size", "p50", "p99", "requests/s", "memory");
  for (const Option& o : a.options) {
    if (o.way != a.chosen.way) continue;
    const std::size_t s = o.size;
    // Every size up to 8, then the round ones and the chosen one.
    if (s > 8 && s % 4 != 0 && s != a.chosen.size && &o != &a.options.back()) continue;
    std::printf("  %5zu | %10s | %10s | %10.2f | %10s |%s%s%s\n", s, secs(o.predicted.p50_s).c_str(),
                secs(o.predicted.p99_s).c_str(), o.predicted.throughput, format_bytes(o.memory_bytes).c_str(),
                o.within_budget ? "" : " over budget", o.predicted.stable ? "" : " cannot keep up",
                s == a.chosen.size ? "  <- recommended" : "");
  }
}

boost::json::object option_json(const Option& o) {
  return {{"way", o.way->label()},
          {"mode", o.way->mode},
          {"isolation", o.way->isolation},
          {"size", o.size},
          {"throughput", o.predicted.throughput},
          {"p50_s", o.predicted.p50_s},
          {"p99_s", std::isfinite(o.predicted.p99_s) ? boost::json::value(o.predicted.p99_s) : nullptr},
          {"makespan_s", o.predicted.makespan_s},
          {"stable", o.predicted.stable},
          {"memory_bytes", o.memory_bytes},
          {"within_budget", o.within_budget},
          {"meets_slo", o.meets_slo}};
}

boost::json::object measurement_json(const Measurement& m) {
  boost::json::array ways;
  for (const Way& w : m.ways) {
    boost::json::array levels;
    for (const Level& l : w.levels) {
      levels.push_back({{"at_once", l.k}, {"live", l.live}, {"service_s", l.service_s},
                        {"memory_bytes", l.pss_bytes}, {"wall_s", l.wall_s}});
    }
    ways.push_back({{"way", w.label()}, {"mode", w.mode}, {"isolation", w.isolation}, {"refused", w.refused},
                    {"levels", std::move(levels)}, {"load_s", w.load_s}, {"instance_s", w.instance_s},
                    {"weights_bytes", w.weights_bytes}, {"fixed_bytes", w.fixed_bytes},
                    {"unit_bytes", w.unit_bytes}, {"stopped", w.stopped}});
  }
  return {{"wall_s", m.wall_s}, {"cores", m.cores}, {"base_pss_bytes", m.base_pss_bytes},
          {"workload", m.workload}, {"ways", std::move(ways)}};
}

int run_advise(const AdviseArgs& args) {
  Result<server::ModelConfig> found = configured_model(args.config_path, args.model);
  if (!found.ok()) {
    std::fprintf(stderr, "modelpool advise: %s\n", found.status().message().c_str());
    return 1;
  }
  const server::ModelConfig* config = &*found;
  Goal goal;
  goal.concurrency = args.concurrency;
  goal.arrivals = args.arrival == "poisson" ? Arrivals::poisson(args.rate) : Arrivals::burst(args.concurrency);
  goal.slo_p99_s = args.slo_p99_s;
  if (!args.memory_budget.empty()) {
    Result<double> b = parse_bytes(args.memory_budget);
    if (!b.ok()) {
      std::fprintf(stderr, "modelpool advise: %s\n", b.status().message().c_str());
      return 2;
    }
    goal.memory_budget_bytes = *b;
  }

  MeasureOptions mo;
  mo.max_level = args.concurrency;
  mo.memory_budget_bytes = goal.memory_budget_bytes;
  mo.time_limit_s = args.time_limit_s > 0 ? args.time_limit_s : args.quick ? 45 : 240;
  mo.requests_per_caller = args.quick ? 2 : 4;
  mo.min_level_s = args.quick ? 0.5 : 1.5;
  mo.threads = args.concurrency;
  mo.workload = args.workload;
  mo.only_mode = args.mode;
  mo.only_isolation = args.isolation;
  std::fprintf(stderr, "modelpool advise: measuring model '%s' (%s) for at most %.0f s...\n", config->name.c_str(),
               config->backend.c_str(), mo.time_limit_s);
  Result<Measurement> m = measure(*config, mo);
  if (!m.ok()) {
    std::fprintf(stderr, "modelpool advise: %s\n", m.status().message().c_str());
    return 1;
  }
  const Advice advice = recommend(*m, goal);
  const Option& c = advice.chosen;

  std::printf("modelpool advise: model '%s' (%s), %s, on this machine (%zu cores)\n", config->name.c_str(),
              config->backend.c_str(),
              goal.arrivals.kind == Arrivals::Kind::kBurst
                  ? (std::to_string(goal.concurrency) + " callers at once").c_str()
                  : (std::to_string(goal.arrivals.rate) + " requests/s (Poisson), up to " +
                     std::to_string(goal.concurrency) + " at once").c_str(),
              m->cores);
  print_measurement(*m);
  print_options(advice);
  std::printf("\nrecommended: %s, %zu %s\n", c.way->label().c_str(), c.size,
              c.way->mode == "batched" ? "slots" : c.way->isolation == "process" ? "workers" : "instances");
  std::printf("  predicted: %.2f requests/s, p50 %s, p99 %s, memory %s%s\n", c.predicted.throughput,
              secs(c.predicted.p50_s).c_str(), secs(c.predicted.p99_s).c_str(), format_bytes(c.memory_bytes).c_str(),
              goal.arrivals.kind == Arrivals::Kind::kBurst ? (", all answered in " + secs(c.predicted.makespan_s)).c_str()
                                                           : "");
  std::printf("  why:\n");
  for (const std::string& r : advice.reasons) std::printf("    - %s\n", r.c_str());

  const server::ModelConfig rec = recommended_config(*config, c, goal);
  Result<std::shared_ptr<Backend>> backend = default_catalog().find(config->backend);
  const std::string block = model_block(rec, (*backend)->info());
  std::printf("\n%s", block.c_str());
  if (!args.toml_path.empty()) {
    std::ofstream out(args.toml_path);
    out << "# modelpool advise --config " << args.config_path << " --model " << config->name << " --concurrency "
        << args.concurrency << "\n"
        << block;
    if (!out) {
      std::fprintf(stderr, "modelpool advise: cannot write %s\n", args.toml_path.c_str());
      return 1;
    }
    std::printf("(written to %s)\n", args.toml_path.c_str());
  }

  int code = 0;
  std::optional<Verified> verified;
  boost::json::object doc{{"advice", "pool-size"},
                          {"model", config->name},
                          {"backend", config->backend},
                          {"concurrency", args.concurrency},
                          {"arrival", args.arrival},
                          {"rate", args.rate},
                          {"slo_p99_s", args.slo_p99_s},
                          {"memory_budget_bytes", goal.memory_budget_bytes},
                          {"machine", machine_json()},
                          {"measured", measurement_json(*m)},
                          {"recommended", option_json(c)},
                          {"toml", block}};
  boost::json::array reasons;
  for (const std::string& r : advice.reasons) reasons.push_back(boost::json::string(r));
  doc["reasons"] = std::move(reasons);
  boost::json::array options;
  for (const Option& o : advice.options) options.push_back(option_json(o));
  doc["options"] = std::move(options);
  if (advice.rule_of_thumb.way != nullptr) doc["rule_of_thumb"] = option_json(advice.rule_of_thumb);

  if (args.verify) {
    const std::size_t requests =
        args.verify_requests ? args.verify_requests
                             : static_cast<std::size_t>(std::clamp(goal.arrivals.rate * (args.quick ? 20.0 : 60.0), 50.0, 2000.0));
    std::fprintf(stderr, "modelpool advise: verifying...\n");
    Result<Verified> v =
        verify_in_fresh_process(block, rec.name, goal, args.workload, args.quick ? 1 : 3, requests);
    if (!v.ok()) {
      std::fprintf(stderr, "modelpool advise: verify: %s\n", v.status().message().c_str());
      return 1;
    }
    const std::vector<Comparison> rows = compare(c, *v, 0.10);
    std::printf("\nverified: %s, %zu requests%s\n\n",
                goal.arrivals.kind == Arrivals::Kind::kBurst
                    ? (std::to_string(v->runs) + " burst(s) of " + std::to_string(goal.concurrency)).c_str()
                    : "Poisson arrivals",
                v->requests, v->errors ? (", " + std::to_string(v->errors) + " FAILED: " + v->first_error).c_str() : "");
    std::printf("  %-10s | %12s | %12s | %7s |\n", "", "predicted", "measured", "error");
    boost::json::array jrows;
    for (const Comparison& r : rows) {
      auto show = [&](double x) {
        return r.metric == "memory" ? format_bytes(x) : r.metric == "throughput" ? std::to_string(x).substr(0, 6) + "/s" : secs(x);
      };
      std::printf("  %-10s | %12s | %12s | %+6.1f%% | %s\n", r.metric.c_str(), show(r.predicted).c_str(),
                  show(r.measured).c_str(), r.error * 100,
                  !r.judged ? "(shown)" : r.within ? "within 10%" : "MISSED: off by more than 10%");
      if (r.judged && !r.within) code = 3;
      jrows.push_back({{"metric", r.metric}, {"predicted", r.predicted}, {"measured", r.measured},
                       {"error", r.error}, {"judged", r.judged}, {"within", r.within}});
    }
    if (v->errors) code = 3;
    std::printf("\n%s\n", code == 0 ? "every judged prediction within 10%"
                                    : "the prediction MISSED (see above): the model or the measurement is off here");
    verified = *v;
    doc["verified"] = boost::json::object{{"runs", v->runs}, {"requests", v->requests}, {"errors", v->errors},
                                          {"comparison", std::move(jrows)}};
  }
  if (!args.charts_dir.empty()) {
    Result<std::vector<std::string>> files = write_advice_charts(*m, advice, goal, verified, args.charts_dir);
    if (!files.ok()) {
      std::fprintf(stderr, "modelpool advise: %s\n", files.status().to_string().c_str());
      return 1;
    }
    for (const std::string& f : *files) std::printf("chart written to %s\n", f.c_str());
  }
  if (!args.json_path.empty()) {
    if (Status s = write_json_file(args.json_path, doc); !s.ok()) {
      std::fprintf(stderr, "modelpool advise: %s\n", s.to_string().c_str());
      return 1;
    }
    std::printf("results written to %s\n", args.json_path.c_str());
  }
  return code;
}

}  // namespace

void add_advise_command(CLI::App& app, int* exit_code) {
  advise::add_advise_verify_command(app, exit_code);
  auto args = std::make_shared<AdviseArgs>();
  CLI::App* cmd = app.add_subcommand(
      "advise",
      "How large should the pool be? Measures a configured model on this machine, predicts every mode and size "
      "with a queueing model fed by the measured scaling curve, and recommends one ([[model]] TOML); --verify "
      "runs the recommendation and prints predicted against measured");
  cmd->add_option("--config", args->config_path, "Config file with the model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--model", args->model, "The model's name in the config (optional when it holds one)");
  cmd->add_option("--concurrency", args->concurrency, "Callers at once (burst), or the most expected (poisson)")
      ->required()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--arrival", args->arrival, "burst: every caller at once, one request each; poisson: at --rate")
      ->check(CLI::IsMember({"burst", "poisson"}))
      ->capture_default_str();
  cmd->add_option("--rate", args->rate, "poisson: requests per second")->check(CLI::Range(1e-6, 1e6));
  cmd->add_option("--slo-p99", args->slo_p99_s, "Latency goal: p99 in seconds")->check(CLI::Range(1e-6, 1e6));
  cmd->add_option("--memory-budget", args->memory_budget, "Memory the model may take, e.g. 4GB, 512MiB");
  cmd->add_flag("--quick", args->quick, "Measure for at most ~45 s (the whole advice in under a minute)");
  cmd->add_flag("--verify", args->verify, "Run the recommendation under the stated load; compare with the prediction");
  cmd->add_option("--time-limit", args->time_limit_s, "Seconds of measuring (default 240; 45 with --quick)")
      ->check(CLI::Range(5.0, 86400.0));
  cmd->add_option("--mode", args->mode, "Consider only this mode (default: every mode the backend has)")
      ->check(CLI::IsMember({"exclusive", "batched"}));
  cmd->add_option("--isolation", args->isolation, "Consider only this isolation (default: thread and process)")
      ->check(CLI::IsMember({"thread", "process"}));
  cmd->add_option("--verify-requests", args->verify_requests,
                  "poisson: arrivals --verify runs (default: a minute's worth, 20 s with --quick; 50 to 2000)")
      ->check(CLI::Range(10, 100000));
  cmd->add_option("--audio", args->workload.audio_path, "A transcribing model's input file")->check(CLI::ExistingFile);
  cmd->add_option("--text", args->workload.text, "A speaking model's input text");
  cmd->add_option("--prompt-words", args->workload.prompt_words, "A text model's prompt, in words")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--max-tokens", args->workload.max_tokens, "A text model's completion, in tokens")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--toml", args->toml_path, "Also write the recommended [[model]] block to FILE")
      ->check([](const std::string& p) { return check_writable(p); });
  cmd->add_option("--json", args->json_path, "Also write everything as JSON to FILE")
      ->check([](const std::string& p) { return check_writable(p); });
  cmd->add_option("--charts", args->charts_dir,
                  "Also draw the trade-off, the scaling curve and latency as SVG (and PNG) charts in DIR; needs gnuplot")
      ->check([](const std::string& dir) { return check_chart_dir(dir); });
  cmd->callback([args, exit_code, cmd] {
    if (args->arrival == "poisson" && args->rate <= 0) {
      throw CLI::ValidationError("--rate", "--arrival poisson needs --rate R (requests per second)");
    }
    if (args->arrival == "burst" && cmd->count("--rate")) {
      throw CLI::ValidationError("--rate", "applies to --arrival poisson only");
    }
    *exit_code = run_advise(*args);
  });
}

}  // namespace modelpool::cli
