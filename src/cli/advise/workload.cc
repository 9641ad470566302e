#include "cli/advise/workload.h"

#include <fstream>
#include <iterator>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <random>
#include <thread>

#include "modelpool/speech.h"

namespace modelpool::cli::advise {
namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string words(std::size_t n) {
  static const char* const kWords[] = {"the", "pool", "serves", "many", "callers", "within", "a",
                                       "memory", "budget", "and", "every", "request", "waits", "its",
                                       "turn", "in", "order"};
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ' ';
    out += kWords[i % std::size(kWords)];
  }
  return out;
}

}  // namespace

Result<Workload> Workload::for_model(const Model& model, const WorkloadOptions& o) {
  Workload w;
  const Capabilities caps = model.capabilities();
  if (has(caps, Capability::kTranscribe)) {
    if (o.audio_path.empty()) return invalid_argument_error("the model transcribes: give --audio FILE");
    std::ifstream in(o.audio_path, std::ios::binary);
    if (!in) return invalid_argument_error("cannot read --audio " + o.audio_path);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    w.description_ = "transcription of " + o.audio_path + " (" + std::to_string(bytes.size()) + " bytes)";
    Result<Request> r = speech::transcription_request(Buffer::adopt(std::move(bytes)), {});
    if (!r.ok()) return r.status();
    w.request_ = std::move(*r);
    return w;
  }
  if (has(caps, Capability::kSpeak)) {
    const std::string text = o.text.empty() ? "The pool serves many callers within a memory budget." : o.text;
    Result<Request> r = speech::speech_request(text, {"", 1.0, "wav"});
    if (!r.ok()) return r.status();
    w.request_ = std::move(*r);
    w.description_ = "speech of " + std::to_string(text.size()) + " characters (wav)";
    return w;
  }
  if (has(caps, Capability::kGenerate)) {
    w.generates_ = true;
    w.generation_.prompt = words(o.prompt_words);
    w.generation_.max_tokens = static_cast<int>(o.max_tokens);
    w.generation_.temperature = 0;
    w.generation_.ignore_eos = true;
    w.description_ = "completion of a " + std::to_string(o.prompt_words) + "-word prompt, " +
                     std::to_string(o.max_tokens) + " tokens";
    return w;
  }
  w.description_ = "a run without inputs";
  return w;
}

Outcome Workload::run(Model& model, std::chrono::seconds timeout) const {
  Outcome out;
  const Clock::time_point start = Clock::now();
  const Deadline deadline = start + timeout;
  if (generates_) {
    Result<GenerationResult> r = model.generate(generation_, deadline, {});
    out.latency_s = seconds(Clock::now() - start);
    if (!r.ok()) {
      out.error = r.status().to_string();
      return out;
    }
    out.service_s = r->total_s - r->queue_s;
    return out;
  }
  CollectSink sink;
  Result<InferStats> r = model.infer(request_, sink, deadline, {});
  out.latency_s = seconds(Clock::now() - start);
  if (!r.ok()) {
    out.error = r.status().to_string();
    return out;
  }
  out.service_s = seconds(r->run);
  return out;
}

std::vector<Outcome> run_closed_loop(Model& model, const Workload& work, std::size_t callers,
                                     std::size_t each, std::size_t threads) {
  const std::size_t total = callers * each;
  threads = std::max(threads, callers);
  std::vector<Outcome> outcomes(total);
  // Request r starts on thread r % threads once fewer than `callers` run:
  // the threads take turns, each keeping its own state warm or cold as a
  // handler thread would.
  std::mutex mu;
  std::condition_variable cv;
  std::size_t next = 0, running = 0;
  {
    std::vector<std::jthread> pool;
    for (std::size_t t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (;;) {
          std::size_t r;
          {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return next >= total || (next % threads == t && running < callers); });
            if (next >= total) return;
            r = next++;
            ++running;
          }
          cv.notify_all();
          outcomes[r] = work.run(model);
          {
            std::lock_guard lock(mu);
            --running;
          }
          cv.notify_all();
        }
      });
    }
  }
  return outcomes;
}

std::vector<Outcome> run_burst(Model& model, const Workload& work, std::size_t callers) {
  std::vector<Outcome> outcomes(callers);
  std::latch ready(static_cast<std::ptrdiff_t>(callers) + 1);
  std::latch go(1);
  Clock::time_point t0;
  {
    std::vector<std::jthread> threads;
    for (std::size_t c = 0; c < callers; ++c) {
      threads.emplace_back([&, c] {
        ready.count_down();
        go.wait();
        outcomes[c] = work.run(model);
        // From the common release, not this thread's own start.
        outcomes[c].latency_s = seconds(Clock::now() - t0);
      });
    }
    ready.arrive_and_wait();
    t0 = Clock::now();
    go.count_down();
  }
  return outcomes;
}

std::vector<Outcome> run_poisson(Model& model, const Workload& work, double rate, std::size_t count,
                                 std::uint32_t seed) {
  std::vector<Outcome> outcomes(count);
  std::mt19937 rng(seed);
  std::exponential_distribution<double> gap(rate);
  const Clock::time_point t0 = Clock::now();
  {
    std::vector<std::jthread> threads;
    double at = 0;
    for (std::size_t i = 0; i < count; ++i) {
      at += gap(rng);
      const Clock::time_point when = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at));
      std::this_thread::sleep_until(when);
      threads.emplace_back([&, i, when, at] {
        outcomes[i] = work.run(model);
        outcomes[i].latency_s = seconds(Clock::now() - when);
        outcomes[i].arrival_s = at;
      });
    }
  }
  return outcomes;
}

std::pair<std::size_t, std::string> errors_of(const std::vector<Outcome>& outcomes) {
  std::size_t n = 0;
  std::string first;
  for (const Outcome& o : outcomes) {
    if (o.error.empty()) continue;
    if (n++ == 0) first = o.error;
  }
  return {n, first};
}

}  // namespace modelpool::cli::advise
