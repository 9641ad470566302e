#include "cli/loadgen.h"

#include "cli/report.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <latch>
#include <optional>
#include <thread>
#include <vector>

namespace modelpool::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One request's outcome.
struct Sample {
  std::string error_kind;  // "" when the request succeeded; see LoadgenReport
  std::string error;
  double ttft_s = 0;
  double latency_s = 0;
  std::size_t completion_tokens = 0;
  std::size_t prompt_tokens = 0;  // as usage reports them (0: not reported)
  std::size_t cached_tokens = 0;
  std::string text;  // the answer (for the next turn of a conversation)
  double ended_s = 0;  // from the run's start to the end of the request
  // Set when the request was sent twice: the first attempt's error, its
  // connection having closed before any answer.
  std::string resent_kind, resent_error;
};

Sample failure(std::string kind, std::string message) {
  Sample s;
  s.error_kind = std::move(kind);
  s.error = std::move(message);
  return s;
}

// The text a completion (or chat) choice carries: choices[0].text, or
// .delta.content in chat streams, or .message.content in chat responses.
std::string_view choice_text(const json::object& response) {
  const json::value* choices = response.if_contains("choices");
  if (!choices || !choices->is_array() || choices->get_array().empty()) return {};
  const json::object* choice = choices->get_array()[0].if_object();
  if (!choice) return {};
  if (const json::value* text = choice->if_contains("text"); text && text->is_string()) {
    return text->get_string();
  }
  for (const char* key : {"delta", "message"}) {
    const json::value* part = choice->if_contains(key);
    if (!part || !part->is_object()) continue;
    const json::value* content = part->get_object().if_contains("content");
    if (content && content->is_string()) return content->get_string();
  }
  return {};
}

std::optional<std::size_t> count_in(const json::value* object, const char* key) {
  if (!object || !object->is_object()) return std::nullopt;
  const json::value* n = object->get_object().if_contains(key);
  if (!n || !n->is_int64() || n->get_int64() < 0) return std::nullopt;
  return static_cast<std::size_t>(n->get_int64());
}

std::optional<std::size_t> usage_completion_tokens(const json::object& response) {
  return count_in(response.if_contains("usage"), "completion_tokens");
}

// usage.prompt_tokens and usage.prompt_tokens_details.cached_tokens, when
// the response has them, into `s`.
void read_prompt_usage(const json::object& response, Sample& s) {
  const json::value* usage = response.if_contains("usage");
  if (auto n = count_in(usage, "prompt_tokens")) s.prompt_tokens = *n;
  if (usage && usage->is_object()) {
    if (auto n = count_in(usage->get_object().if_contains("prompt_tokens_details"), "cached_tokens")) {
      s.cached_tokens = *n;
    }
  }
}

// What a server-sent event stream has said so far.
struct EventStream {
  std::size_t consumed = 0;  // bytes of the body already split into lines
  std::optional<double> ttft_s;
  std::size_t text_events = 0;
  std::optional<std::size_t> usage_tokens;
  Sample usage;       // prompt and cached tokens, from the usage event
  std::string text;   // the text of every event, in order
  std::string error;  // a malformed event or one that reports an error

  // Consumes the complete lines of `body` past `consumed`; events with text
  // arriving now are timed against `t0`.
  void consume(const std::string& body, Clock::time_point t0) {
    for (std::size_t eol; error.empty() && (eol = body.find('\n', consumed)) != std::string::npos;
         consumed = eol + 1) {
      std::string_view line(body.data() + consumed, eol - consumed);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.starts_with("data:")) continue;  // blank separators, comments, event names
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (line == "[DONE]") continue;
      beast::error_code ec;
      const json::value event = json::parse(line, ec);
      if (ec || !event.is_object()) {
        error = "event is not JSON: " + std::string(line.substr(0, 200));
      } else if (event.get_object().contains("error")) {
        error = "event reports an error: " + std::string(line.substr(0, 200));
      } else {
        if (const std::string_view piece = choice_text(event.get_object()); !piece.empty()) {
          if (!ttft_s) ttft_s = seconds_since(t0);
          ++text_events;
          text += piece;
        }
        if (auto n = usage_completion_tokens(event.get_object())) usage_tokens = n;
        read_prompt_usage(event.get_object(), usage);
      }
    }
  }
};

// One keep-alive connection, used by one worker thread at a time.
//
// Beast's synchronous calls take no deadline, so each step runs the
// asynchronous operation on this connection's private io_context until it
// completes; the stream's expiry (the request's deadline) ends a step that
// takes too long with beast::error::timeout.
class Connection {
 public:
  // `address` ("host:port") names the server in errors.
  Connection(tcp::resolver::results_type endpoints, std::string address)
      : endpoints_(std::move(endpoints)), address_(std::move(address)) {}

  // Sends `request` and reads the whole response. A reused connection that
  // closes before any answer (the server closed it while it sat idle, or a
  // proxy closed it to say "retry": HAProxy does when a server dies under a
  // request that was not the first on the connection) is reopened once and
  // the request resent; the Sample says so. `kserve`: the answer is a KServe
  // infer response, else a completion.
  Sample send(const http::request<http::string_body>& request, bool stream, bool kserve,
              std::chrono::milliseconds timeout) {
    const bool reused = open_;
    bool stale = false;
    Sample s = attempt(request, stream, kserve, timeout, &stale);
    if (stale && reused) {
      Sample again = attempt(request, stream, kserve, timeout, &stale);
      again.resent_kind = std::move(s.error_kind);
      again.resent_error = std::move(s.error);
      return again;
    }
    return s;
  }

 private:
  template <typename Start>
  beast::error_code await(Start start) {
    beast::error_code result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  Sample transport_failure(const std::string& step, beast::error_code ec,
                           std::chrono::milliseconds timeout) {
    close();
    if (ec == beast::error::timeout) {
      return failure("timeout",
                     step + ": no answer within " + std::to_string(timeout.count()) + " ms");
    }
    return failure("transport", step + ": " + ec.message());
  }

  // `*stale` says the server closed the connection before answering.
  Sample attempt(const http::request<http::string_body>& request, bool stream, bool kserve,
                 std::chrono::milliseconds timeout, bool* stale) {
    const Clock::time_point t0 = Clock::now();
    stream_.expires_after(timeout);
    beast::error_code ec;
    if (!open_) {
      ec = await([&](auto done) { stream_.async_connect(endpoints_, std::move(done)); });
      if (ec) return transport_failure("connect to " + address_, ec, timeout);
      open_ = true;
    }
    ec = await([&](auto done) { http::async_write(stream_, request, std::move(done)); });
    *stale = ec == asio::error::broken_pipe || ec == asio::error::connection_reset;
    if (ec) return transport_failure("write", ec, timeout);

    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    ec = await(
        [&](auto done) { http::async_read_header(stream_, buffer_, parser, std::move(done)); });
    *stale = ec == http::error::end_of_stream || ec == asio::error::connection_reset;
    if (ec) return transport_failure("read", ec, timeout);

    const unsigned status = parser.get().result_int();
    const bool events = stream && status == 200;
    EventStream reader;
    while (!parser.is_done()) {
      ec = await(
          [&](auto done) { http::async_read_some(stream_, buffer_, parser, std::move(done)); });
      if (ec) return transport_failure("read", ec, timeout);
      if (events) reader.consume(parser.get().body(), t0);
    }
    Sample s;
    s.latency_s = seconds_since(t0);
    if (!parser.keep_alive()) close();

    const std::string& body = parser.get().body();
    if (status != 200) {
      return failure("http " + std::to_string(status), body.substr(0, 200));
    }
    if (events) {
      reader.consume(body + "\n", t0);  // a last line without its newline
      if (!reader.error.empty()) return failure("bad response", reader.error);
      s.ttft_s = reader.ttft_s.value_or(s.latency_s);
      s.completion_tokens = reader.usage_tokens.value_or(reader.text_events);
      s.prompt_tokens = reader.usage.prompt_tokens;
      s.cached_tokens = reader.usage.cached_tokens;
      s.text = std::move(reader.text);
      return s;
    }
    beast::error_code json_ec;
    const json::value response = json::parse(body, json_ec);
    if (json_ec || !response.is_object()) {
      return failure("bad response", "response is not JSON: " + body.substr(0, 200));
    }
    if (kserve) {
      const json::value* outputs = response.get_object().if_contains("outputs");
      if (!outputs || !outputs->is_array()) {
        return failure("bad response", "response has no outputs");
      }
      s.ttft_s = s.latency_s;
      return s;
    }
    const std::optional<std::size_t> tokens = usage_completion_tokens(response.get_object());
    if (!tokens) return failure("bad response", "response has no usage.completion_tokens");
    s.ttft_s = s.latency_s;
    s.completion_tokens = *tokens;
    read_prompt_usage(response.get_object(), s);
    s.text = std::string(choice_text(response.get_object()));
    return s;
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    open_ = false;
  }

  asio::io_context io_;
  beast::tcp_stream stream_{io_};
  beast::flat_buffer buffer_;
  const tcp::resolver::results_type endpoints_;
  const std::string address_;
  bool open_ = false;
};

// The conversation so far of a multi-turn chat: the first question, then
// each answer and the next question.
json::array conversation(const LoadgenOptions& o, std::size_t index,
                         const std::vector<std::string>& answers) {
  json::array messages{json::object{{"role", "user"}, {"content", make_prompt(o, index)}}};
  for (std::size_t t = 0; t < answers.size(); ++t) {
    messages.push_back(json::object{{"role", "assistant"}, {"content", answers[t]}});
    messages.push_back(json::object{
        {"role", "user"},
        {"content", "Question " + std::to_string(t + 2) + " of conversation " +
                        std::to_string(index) + ": and what comes after that?"}});
  }
  return messages;
}

// The path a request goes to, after the URL's prefix.
std::string target_of(const LoadgenOptions& o) {
  if (o.kserve) return "/v2/models/" + o.model + "/infer";
  return o.chat ? "/v1/chat/completions" : "/v1/completions";
}

// The body of request number `index`; with turns > 1, of turn
// answers.size() + 1 of conversation `index`.
json::object body_of(const LoadgenOptions& o, std::size_t index,
                     const std::vector<std::string>& answers) {
  if (o.kserve) {
    return json::object{{"inputs", json::array{json::object{{"name", "x"},
                                                            {"shape", json::array{1}},
                                                            {"datatype", "INT64"},
                                                            {"data", json::array{index}}}}}};
  }
  json::object body;
  body["model"] = o.model;
  if (o.chat) {
    body["messages"] = conversation(o, index, answers);
  } else {
    body["prompt"] = make_prompt(o, index);
  }
  body["max_tokens"] = o.max_tokens;
  body["temperature"] = 0;
  body["stream"] = o.stream;
  if (o.stream) body["stream_options"] = json::object{{"include_usage", true}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  return body;
}

http::request<http::string_body> make_request(const LoadgenOptions& o, std::size_t index,
                                              const std::vector<std::string>& answers = {}) {
  http::request<http::string_body> request{http::verb::post, o.url.prefix + target_of(o), 11};
  const bool ipv6 = o.url.host.find(':') != std::string::npos;
  request.set(http::field::host,
              (ipv6 ? "[" + o.url.host + "]" : o.url.host) + ":" + std::to_string(o.url.port));
  request.set(http::field::user_agent, "modelpool-loadgen");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, o.stream ? "text/event-stream" : "application/json");
  if (!o.api_key.empty()) request.set(http::field::authorization, "Bearer " + o.api_key);
  request.body() = json::serialize(body_of(o, index, answers));
  request.prepare_payload();
  return request;
}

LoadgenReport summarize(const std::vector<Sample>& samples, double wall_s, bool stream,
                        std::size_t turns = 1) {
  LoadgenReport r;
  r.wall_s = wall_s;
  std::vector<double> ttft, latency, tpot;
  std::vector<std::vector<double>> ttft_by_turn(turns > 1 ? turns : 0);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    if (!s.error_kind.empty()) {
      ++r.errors;
      ++r.errors_by_kind[s.error_kind];
      if (r.first_error.empty()) r.first_error = s.error_kind + ": " + s.error;
      r.failures.push_back({i, s.error_kind, s.error, s.ended_s});
    }
    if (!s.resent_kind.empty()) r.resent.push_back({i, s.resent_kind, s.resent_error, s.ended_s});
    if (!s.error_kind.empty()) continue;
    ++r.ok;
    r.completion_tokens += s.completion_tokens;
    r.prompt_tokens += s.prompt_tokens;
    r.cached_tokens += s.cached_tokens;
    ttft.push_back(s.ttft_s);
    if (!ttft_by_turn.empty()) ttft_by_turn[i % turns].push_back(s.ttft_s);
    latency.push_back(s.latency_s);
    if (stream && s.completion_tokens > 1) {
      tpot.push_back((s.latency_s - s.ttft_s) / static_cast<double>(s.completion_tokens - 1));
    }
  }
  if (wall_s > 0) {
    r.agg_tokens_per_s = static_cast<double>(r.completion_tokens) / wall_s;
    r.requests_per_s = static_cast<double>(r.ok) / wall_s;
  }
  r.ttft_p50_s = percentile(ttft, 0.5);
  r.ttft_p99_s = percentile(ttft, 0.99);
  r.latency_p50_s = percentile(latency, 0.5);
  r.latency_p99_s = percentile(latency, 0.99);
  r.tpot_p50_s = percentile(tpot, 0.5);
  for (const std::vector<double>& t : ttft_by_turn) {
    r.ttft_p50_by_turn_s.push_back(percentile(t, 0.5));
    r.ttft_p99_by_turn_s.push_back(percentile(t, 0.99));
  }
  return r;
}

bool is_host_char(char c, bool bracketed) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return bracketed ? (c == ':' || c == '.' || c == '%') : (c == '-' || c == '.' || c == '_');
}

}  // namespace

Result<ServerUrl> parse_server_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return invalid_argument_error("'" + std::string(url) + "' must start with http://");
  }
  std::string scheme(url.substr(0, scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "http") {
    return invalid_argument_error("scheme '" + scheme + "' is not supported (only http://)");
  }
  std::string_view rest = url.substr(kHttp.size());
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return invalid_argument_error("a base URL has no query or fragment");
  }
  const bool bracketed = authority.starts_with('[');
  std::string_view host, port;
  bool has_port = false;
  if (bracketed) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid_argument_error("host '[' is not closed");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      return invalid_argument_error("unexpected '" + std::string(after) + "' after the host");
    }
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    has_port = colon != std::string_view::npos;
    if (has_port) port = authority.substr(colon + 1);
  }
  if (host.empty()) return invalid_argument_error("'" + std::string(url) + "' has no host");
  if (!std::all_of(host.begin(), host.end(), [&](char c) { return is_host_char(c, bracketed); })) {
    return invalid_argument_error("host '" + std::string(host) + "' is not a host name or address");
  }
  ServerUrl out;
  out.host = std::string(host);
  if (has_port) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return invalid_argument_error("port '" + std::string(port) + "' is not in 1..65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  while (path.ends_with('/')) path.remove_suffix(1);
  out.prefix = std::string(path);
  return out;
}

std::string make_prompt(const LoadgenOptions& o, std::size_t index) {
  if (!o.prompt.empty()) return o.prompt;
  static constexpr std::string_view kWords[] = {
      "the",   "river", "stone", "light", "garden", "slow", "window", "paper",
      "north", "quiet", "music", "bread", "winter", "door", "green",  "house"};
  constexpr std::size_t kWordCount = sizeof kWords / sizeof *kWords;
  // Counted for llama's SPM vocabulary: "Request", ":" and each digit or
  // dash are a token, as is each short word with its leading space. BPE
  // vocabularies take a number in fewer tokens, so the prompt comes out a
  // little shorter.
  std::string text;
  std::size_t tokens = 0;
  if (o.shared_prefix_tokens > 0) {
    const std::string salt = std::to_string(o.prompt_salt);
    text = "System " + salt + ":";
    for (tokens = 2 + salt.size(); tokens < o.shared_prefix_tokens; ++tokens) {
      text += ' ';
      text += kWords[(o.prompt_salt + tokens * 7) % kWordCount];
    }
    text += ' ';
  }
  const std::string id = std::to_string(o.prompt_salt) + "-" + std::to_string(index);
  text += "Request " + id + ":";
  for (tokens += 2 + id.size(); tokens < o.prompt_tokens; ++tokens) {
    text += ' ';
    text += kWords[(index + tokens) % kWordCount];
  }
  return text;
}

LoadgenReport run_loadgen(const LoadgenOptions& o) {
  std::vector<Sample> samples(o.requests);
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  const tcp::resolver::results_type endpoints =
      resolver.resolve(o.url.host, std::to_string(o.url.port), ec);
  if (ec) {
    for (Sample& s : samples)
      s = failure("transport", "resolve '" + o.url.host + "': " + ec.message());
    return summarize(samples, 0, o.stream, o.turns);
  }
  const std::size_t turns = std::max<std::size_t>(1, o.turns);

  const std::chrono::milliseconds timeout(o.timeout_ms);
  std::atomic<std::size_t> next{0};
  std::latch start(1);
  Clock::time_point t0;
  double start_unix_s = 0;
  {
    std::vector<std::jthread> workers;
    for (std::size_t w = 0; w < o.concurrency; ++w) {
      workers.emplace_back([&] {
        Connection connection(endpoints, o.url.host + ":" + std::to_string(o.url.port));
        start.wait();
        // Each index is taken by one worker, so samples[i] needs no lock.
        // With turns, an index is a conversation: its turns one after the
        // other, each resending the answers before it.
        for (std::size_t i; (i = next.fetch_add(1)) < o.requests / turns;) {
          std::vector<std::string> answers;
          for (std::size_t t = 0; t < turns; ++t) {
            Sample& s = samples[i * turns + t];
            s = connection.send(make_request(o, i, answers), o.stream, o.kserve, timeout);
            s.ended_s = seconds_since(t0);
            if (!s.error_kind.empty()) break;  // the rest of the conversation is not sent
            answers.push_back(s.text);
          }
        }
      });
    }
    t0 = Clock::now();
    start_unix_s =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    start.count_down();
  }  // joins the workers
  // Turns never sent because their conversation failed count as failed.
  for (Sample& s : samples) {
    if (s.error_kind.empty() && s.latency_s == 0) s = failure("not sent", "an earlier turn failed");
  }
  LoadgenReport report = summarize(samples, seconds_since(t0), o.stream, turns);
  report.start_unix_s = start_unix_s;
  return report;
}

void print_report(const LoadgenOptions& o, const LoadgenReport& r) {
  std::printf("loadgen: %zu requests to http://%s:%u%s%s, concurrency %zu, %s\n", o.requests,
              o.url.host.c_str(), o.url.port, o.url.prefix.c_str(), target_of(o).c_str(),
              o.concurrency, o.stream ? "streamed" : "not streamed");
  std::printf("  requests        %zu ok, %zu errors\n", r.ok, r.errors);
  std::printf("  wall time       %.3f s\n", r.wall_s);
  if (o.kserve) {
    std::printf("  throughput      %.2f requests/s\n", r.requests_per_s);
  } else {
    std::printf("  throughput      %.1f completion tokens/s (%zu tokens), %.2f requests/s\n",
                r.agg_tokens_per_s, r.completion_tokens, r.requests_per_s);
    std::printf("  TTFT            p50 %.4f s   p99 %.4f s\n", r.ttft_p50_s, r.ttft_p99_s);
  }
  std::printf("  latency         p50 %.4f s   p99 %.4f s\n", r.latency_p50_s, r.latency_p99_s);
  if (o.stream) std::printf("  time per token  p50 %.4f s\n", r.tpot_p50_s);
  if (r.cached_tokens > 0) {
    std::printf("  prompt tokens   %zu, of which %zu cached (%.0f%%)\n", r.prompt_tokens,
                r.cached_tokens, 100.0 * static_cast<double>(r.cached_tokens) / static_cast<double>(r.prompt_tokens));
  }
  for (std::size_t t = 0; t < r.ttft_p50_by_turn_s.size(); ++t) {
    std::printf("  turn %-2zu TTFT    p50 %.4f s   p99 %.4f s\n", t + 1, r.ttft_p50_by_turn_s[t],
                r.ttft_p99_by_turn_s[t]);
  }
  if (!r.resent.empty()) {
    std::printf("  resent          %zu (their connection closed before an answer; first: %s: %s)\n",
                r.resent.size(), r.resent.front().kind.c_str(), r.resent.front().message.c_str());
  }
  if (r.errors == 0) return;
  std::string kinds;
  for (const auto& [kind, n] : r.errors_by_kind) {
    kinds += (kinds.empty() ? "" : ", ") + kind + " x" + std::to_string(n);
  }
  std::printf("  errors          %s\n  first error     %s\n", kinds.c_str(), r.first_error.c_str());
}

Status write_report_json(const LoadgenOptions& o, const LoadgenReport& r, const std::string& path) {
  json::object errors_by_kind;
  for (const auto& [kind, n] : r.errors_by_kind) errors_by_kind[kind] = n;
  const auto to_json = [](const std::vector<LoadgenFailure>& list) {
    json::array out;
    for (const LoadgenFailure& f : list) {
      out.push_back(json::object{
          {"request", f.request}, {"kind", f.kind}, {"message", f.message}, {"at_s", f.at_s}});
    }
    return out;
  };
  const json::object report{
      {"ok", r.ok},
      {"errors", r.errors},
      {"errors_by_kind", errors_by_kind},
      {"first_error", r.first_error},
      {"failures", to_json(r.failures)},
      {"resent", to_json(r.resent)},
      {"start_unix_s", r.start_unix_s},
      {"wall_s", r.wall_s},
      {"completion_tokens", r.completion_tokens},
      {"agg_tokens_per_s", r.agg_tokens_per_s},
      {"requests_per_s", r.requests_per_s},
      {"ttft_p50_s", r.ttft_p50_s},
      {"ttft_p99_s", r.ttft_p99_s},
      {"latency_p50_s", r.latency_p50_s},
      {"latency_p99_s", r.latency_p99_s},
      {"tpot_p50_s", o.stream ? json::value(r.tpot_p50_s) : json::value(nullptr)},
      {"concurrency", o.concurrency},
      {"requests", o.requests},
      {"stream", o.stream},
      {"kserve", o.kserve},
      {"max_tokens", o.max_tokens},
      {"prompt_salt", o.prompt_salt},
      {"shared_prefix_tokens", o.shared_prefix_tokens},
      {"turns", o.turns},
      {"prompt_tokens", r.prompt_tokens},
      {"cached_tokens", r.cached_tokens},
      {"ttft_p50_by_turn_s", json::value_from(r.ttft_p50_by_turn_s)},
      {"ttft_p99_by_turn_s", json::value_from(r.ttft_p99_by_turn_s)},
  };
  return write_json_file(path, report);
}

}  // namespace modelpool::cli
