#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>

#include "cli/advise/verify.h"
#include "cli/configured_model.h"
#include "cli/report.h"
#include "modelpool/memory.h"
#include "server/config.h"

extern char** environ;

namespace modelpool::cli::advise {
namespace {

struct VerifyArgs {
  std::string config_path, model, out_path, arrival = "burst";
  std::size_t concurrency = 1, runs = 1, requests = 0;
  double rate = 0;
  WorkloadOptions workload;
};

std::string temp_path(const char* suffix) {
  std::string path = "/tmp/modelpool-advise-XXXXXX";
  path += suffix;
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  const int fd = mkstemps(buf.data(), static_cast<int>(std::string(suffix).size()));
  if (fd < 0) return {};
  close(fd);
  return buf.data();
}

int run_verify(const VerifyArgs& a) {
  Result<std::size_t> base = read_pss_bytes(0);
  Result<server::ModelConfig> config = configured_model(a.config_path, a.model);
  if (!config.ok()) {
    std::fprintf(stderr, "modelpool advise-verify: %s\n", config.status().message().c_str());
    return 1;
  }
  Goal goal;
  goal.concurrency = a.concurrency;
  goal.arrivals = a.arrival == "poisson" ? Arrivals::poisson(a.rate) : Arrivals::burst(a.concurrency);
  Result<Verified> v = verify(*config, goal, a.workload, base.ok() ? static_cast<double>(*base) : 0, a.runs,
                              a.requests);
  if (!v.ok()) {
    std::fprintf(stderr, "modelpool advise-verify: %s\n", v.status().to_string().c_str());
    return 1;
  }
  const boost::json::object doc{{"runs", v->runs},         {"requests", v->requests}, {"throughput", v->throughput},
                                {"p50_s", v->p50_s},       {"p99_s", v->p99_s},       {"memory_bytes", v->memory_bytes},
                                {"errors", v->errors},     {"first_error", v->first_error}};
  return write_json_file(a.out_path, doc).ok() ? 0 : 1;
}

}  // namespace

Result<Verified> verify_in_fresh_process(const std::string& block, const std::string& model, const Goal& goal,
                                         const WorkloadOptions& w, std::size_t runs, std::size_t requests) {
  const std::string config = temp_path(".toml"), out = temp_path(".json");
  if (config.empty() || out.empty()) return internal_error("cannot create a temporary file in /tmp");
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      std::remove(a.c_str());
      std::remove(b.c_str());
    }
  } cleanup{config, out};
  {
    std::ofstream f(config);
    f << block;
    if (!f) return internal_error("cannot write " + config);
  }
  std::vector<std::string> args = {"modelpool",
                                    "advise-verify",
                                    "--config", config,
                                    "--model", model,
                                    "--concurrency", std::to_string(goal.concurrency),
                                    "--arrival", goal.arrivals.kind == Arrivals::Kind::kPoisson ? "poisson" : "burst",
                                    "--rate", std::to_string(goal.arrivals.rate),
                                    "--runs", std::to_string(runs),
                                    "--requests", std::to_string(requests),
                                    "--prompt-words", std::to_string(w.prompt_words),
                                    "--max-tokens", std::to_string(w.max_tokens),
                                    "--out", out};
  if (!w.audio_path.empty()) args.insert(args.end(), {"--audio", w.audio_path});
  if (!w.text.empty()) args.insert(args.end(), {"--text", w.text});
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int e = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ); e != 0) {
    return internal_error("cannot start modelpool advise-verify: " + std::string(strerror(e)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return internal_error("the verifying process failed (see above)");
  }
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  if (ec || !doc.is_object()) return internal_error("unreadable result of the verifying process");
  const boost::json::object& o = doc.as_object();
  auto num = [&](const char* key) { return o.at(key).to_number<double>(); };
  Verified v;
  v.runs = static_cast<std::size_t>(num("runs"));
  v.requests = static_cast<std::size_t>(num("requests"));
  v.throughput = num("throughput");
  v.p50_s = num("p50_s");
  v.p99_s = num("p99_s");
  v.memory_bytes = num("memory_bytes");
  v.errors = static_cast<std::size_t>(num("errors"));
  v.first_error = std::string(o.at("first_error").as_string());
  return v;
}

void add_advise_verify_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<VerifyArgs>();
  CLI::App* cmd = app.add_subcommand("advise-verify", "");
  cmd->group("");  // run by `advise --verify`, not by people
  cmd->add_option("--config", a->config_path)->required();
  cmd->add_option("--model", a->model)->required();
  cmd->add_option("--concurrency", a->concurrency)->required();
  cmd->add_option("--arrival", a->arrival);
  cmd->add_option("--rate", a->rate);
  cmd->add_option("--runs", a->runs);
  cmd->add_option("--requests", a->requests);
  cmd->add_option("--audio", a->workload.audio_path);
  cmd->add_option("--text", a->workload.text);
  cmd->add_option("--prompt-words", a->workload.prompt_words);
  cmd->add_option("--max-tokens", a->workload.max_tokens);
  cmd->add_option("--out", a->out_path)->required();
  cmd->callback([a, exit_code] { *exit_code = run_verify(*a); });
}

}  // namespace modelpool::cli::advise
