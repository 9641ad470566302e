// `modelpool loadgen`: a load generator for OpenAI-compatible servers (our
// `modelpool serve`, llama.cpp's llama-server), and for KServe v2 infer
// endpoints (any model that infers, such as a sim model).
//
// `concurrency` worker threads each keep one HTTP/1.1 keep-alive connection
// and together send `requests` POSTs to /v1/completions (or
// /v1/chat/completions, or /v2/models/{model}/infer), taking the next
// request number from a shared counter. Each request is timed from just
// before it is written:
//
//   latency   until the whole response has been read;
//   TTFT      streams: until the first server-sent event that carries text;
//             otherwise the latency;
//   tokens    usage.completion_tokens when the server reports it (streams ask
//             for it with stream_options.include_usage), else, for streams,
//             the number of events that carried text.
//
// A request fails with an HTTP status other than 200, a transport error
// (connect, reset, closed), a timeout, or a response that is not the JSON or
// event stream expected. Failures are values in the report, never exceptions,
// and each one is listed with its message (what that client was told).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "modelpool/status.h"

namespace modelpool::cli {

// Where the server listens, from a base URL "http://HOST[:PORT][/PREFIX]".
struct ServerUrl {
  std::string host;         // "127.0.0.1", "localhost", "::1" (brackets removed)
  std::uint16_t port = 80;  // 80 when the URL names none
  std::string prefix;       // path before /v1/..., without a trailing '/'; often ""
};

// Parses a base URL. Only plain http is supported (no TLS). Returns
// kInvalidArgument naming what is wrong (scheme, host, port, query).
Result<ServerUrl> parse_server_url(std::string_view url);

struct LoadgenOptions {
  ServerUrl url;
  std::size_t concurrency = 1;  // REQUIRES: >= 1
  std::size_t requests = 1;     // REQUIRES: >= 1
  bool stream = false;
  bool chat = false;  // /v1/chat/completions with one user message
  // POST /v2/models/{model}/infer with one INT64 tensor [index] instead of a
  // completion; succeeds on a 200 whose JSON has "outputs". The prompt and
  // token options do not apply. REQUIRES: !chat && !stream.
  bool kserve = false;
  std::string model = "default";
  std::size_t max_tokens = 16;
  // The prompt: `prompt` verbatim when not empty (the same for every
  // request), else about `prompt_tokens` tokens of plain words after a
  // prefix naming `prompt_salt` and the request, so that no two requests
  // share a cached prefix, nor two runs with different salts.
  std::string prompt;
  std::size_t prompt_tokens = 32;
  std::uint64_t prompt_salt = 0;
  // Of prompt_tokens, about this many open every generated prompt the same
  // way (a service's system prompt; it still names prompt_salt, so runs
  // with different salts share nothing). 0: none.
  std::size_t shared_prefix_tokens = 0;
  // With `chat`: requests come as conversations of this many turns, each
  // turn resending the conversation so far (the answers included) and
  // asking one more question, as a chat client does. A worker runs one
  // conversation at a time. REQUIRES: requests a multiple of turns.
  std::size_t turns = 1;
  bool ignore_eos = false;          // sent as "ignore_eos": true (llama-server, vLLM)
  std::string api_key;              // sent as "Authorization: Bearer KEY" when set
  std::size_t timeout_ms = 300000;  // whole-request deadline, connect included
};

// One failed request (or failed attempt): its number, its kind (as
// errors_by_kind counts it) and the message: the start of the answer's body
// for an HTTP error, else what failed ("read: end of stream").
struct LoadgenFailure {
  std::size_t request = 0;
  std::string kind;
  std::string message;
  double at_s = 0;  // from the run's start to the end of the request
};

// What one run measured. Percentiles are over successful requests (nearest
// rank); they are 0 when no request succeeded.
struct LoadgenReport {
  std::size_t ok = 0;
  std::size_t errors = 0;
  // Failed requests by kind: "http 503", "transport", "timeout", "bad response".
  std::map<std::string, std::size_t> errors_by_kind;
  std::string first_error;            // the message of the first failed request, "" if none
  double wall_s = 0;                  // first request written to last response read
  std::size_t completion_tokens = 0;  // summed over successful requests
  double agg_tokens_per_s = 0;        // completion_tokens / wall_s
  double requests_per_s = 0;          // ok / wall_s
  double ttft_p50_s = 0, ttft_p99_s = 0;
  double latency_p50_s = 0, latency_p99_s = 0;
  // Streams only: (latency - TTFT) / (tokens - 1) over requests with >= 2
  // tokens; 0 without --stream.
  double tpot_p50_s = 0;
  // usage.prompt_tokens and usage.prompt_tokens_details.cached_tokens summed
  // over successful requests (servers that report no cached tokens add 0).
  std::size_t prompt_tokens = 0;
  std::size_t cached_tokens = 0;
  // turns > 1: TTFT percentiles of each turn (index 0: the first).
  std::vector<double> ttft_p50_by_turn_s, ttft_p99_by_turn_s;
  // Every failed request, by request number.
  std::vector<LoadgenFailure> failures;
  // Requests sent twice, by request number, each with its first attempt's
  // error: their reused connection closed before any answer (see
  // run_loadgen). They count as ok or failed by their second attempt.
  std::vector<LoadgenFailure> resent;
  // When the first request was written, by the wall clock (to match logs).
  double start_unix_s = 0;
};

// The prompt of request number `index` (see LoadgenOptions::prompt); with
// turns > 1, the first question of conversation number `index`.
std::string make_prompt(const LoadgenOptions& options, std::size_t index);

// Sends all requests and measures them; blocks until every worker is done.
// A request whose reused connection closes before any answer is sent again,
// once, on a new connection, as browsers and some clients (the OpenAI SDKs)
// do: the server may have closed the connection while it sat idle. It is
// listed in `resent`, since a proxy's way of saying its server died under
// the request is the same closed connection.
LoadgenReport run_loadgen(const LoadgenOptions& options);

// Prints the report as a short table on stdout.
void print_report(const LoadgenOptions& options, const LoadgenReport& report);

// Writes the report as one JSON object (the LoadgenReport fields by the same
// names; tpot_p50_s is null without --stream). Fails when `path` cannot be
// written.
Status write_report_json(const LoadgenOptions& options, const LoadgenReport& report,
                         const std::string& path);

}  // namespace modelpool::cli
