#include "cli/loadgen_command.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "cli/loadgen.h"
#include "cli/report.h"

namespace modelpool::cli {

void add_loadgen_command(CLI::App& app, int* exit_code) {
  // The parsed values live as long as the App: CLI11 keeps references to
  // them, and the callback holds this struct.
  struct Args {
    LoadgenOptions options;
    std::string url;
    std::string json_path;
  };
  auto args = std::make_shared<Args>();
  LoadgenOptions* o = &args->options;
  CLI::App* cmd = app.add_subcommand(
      "loadgen",
      "Send concurrent requests to an OpenAI-compatible server (modelpool serve, llama-server), "
      "or KServe v2 infer requests (--kserve), and report throughput, time to first token and "
      "latency");
  cmd->add_option("--url", args->url, "Server base URL, e.g. http://127.0.0.1:8080")
      ->required()
      ->check([](const std::string& url) {
        const Result<ServerUrl> parsed = parse_server_url(url);
        return parsed.ok() ? std::string() : parsed.status().message();
      });
  cmd->add_option("--concurrency", o->concurrency, "Worker threads, one connection each")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--requests", o->requests, "Requests in all, shared by the workers")
      ->check(CLI::Range(1, 100000000))
      ->capture_default_str();
  CLI::Option* stream = cmd->add_flag("--stream", o->stream,
                                      "Stream the responses (server-sent events); measures TTFT");
  CLI::Option* chat =
      cmd->add_flag("--chat", o->chat, "Use /v1/chat/completions instead of /v1/completions");
  cmd->add_flag("--kserve", o->kserve,
                "POST /v2/models/MODEL/infer with one INT64 tensor instead of a completion "
                "(any model that infers, e.g. a sim model); prompt and token options do not apply")
      ->excludes(stream)
      ->excludes(chat);
  cmd->add_option("--model", o->model, "Model name sent in each request")->capture_default_str();
  cmd->add_option("--max-tokens", o->max_tokens, "Tokens to generate per request")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  CLI::Option* prompt = cmd->add_option("--prompt", o->prompt, "Prompt text, the same for all");
  cmd->add_option("--prompt-tokens", o->prompt_tokens,
                  "Prompt of about this many tokens of plain words, different per request")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str()
      ->excludes(prompt);
  o->prompt_salt = std::random_device{}() % 100000;
  cmd->add_option("--prompt-salt", o->prompt_salt,
                  "Number in every generated prompt, so that runs do not share cached prompts "
                  "(default: random)")
      ->check(CLI::Range(0, 99999))
      ->excludes(prompt);
  cmd->add_option("--shared-prefix-tokens", o->shared_prefix_tokens,
                  "Of --prompt-tokens, about this many are the same in every prompt (a system "
                  "prompt; still salted per run)")
      ->check(CLI::Range(1, 1 << 20))
      ->excludes(prompt);
  CLI::Option* turns =
      cmd->add_option("--turns", o->turns,
                      "With --chat: conversations of this many turns, each resending the "
                      "conversation so far (--requests counts turns; a multiple of this)")
          ->check(CLI::Range(1, 1000))
          ->capture_default_str();
  cmd->add_flag("--ignore-eos", o->ignore_eos, "Ask the server to generate all --max-tokens");
  cmd->add_option("--api-key", o->api_key, "Sent as 'Authorization: Bearer KEY'");
  cmd->add_option("--timeout-ms", o->timeout_ms, "Deadline of each request, connect included")
      ->check(CLI::Range(1, 24 * 3600 * 1000))
      ->capture_default_str();
  cmd->add_option("--json", args->json_path, "Also write the results as JSON to FILE")
      ->check(check_writable);

  cmd->callback([args, o, exit_code, turns] {
    if (o->turns > 1 && (!o->chat || o->requests % o->turns != 0)) {
      throw CLI::ValidationError(turns->get_name(),
                                 "needs --chat and a --requests that is a multiple of it");
    }
    if (o->shared_prefix_tokens >= o->prompt_tokens && o->prompt.empty() &&
        o->shared_prefix_tokens > 0) {
      throw CLI::ValidationError("--shared-prefix-tokens", "must be less than --prompt-tokens");
    }
    o->url = *parse_server_url(args->url);  // checked while parsing
    const LoadgenReport report = run_loadgen(*o);
    print_report(*o, report);
    *exit_code = report.errors == 0 ? 0 : 1;
    if (args->json_path.empty()) return;
    if (const Status written = write_report_json(*o, report, args->json_path); !written.ok()) {
      std::fprintf(stderr, "modelpool loadgen: %s\n", written.message().c_str());
      *exit_code = 1;
    }
  });
}

}  // namespace modelpool::cli
