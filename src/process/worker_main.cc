#include "process/worker_main.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "modelpool/model.h"
#include "modelpool/registry.h"
#include "process/arena.h"
#include "process/channel.h"
#include "process/wire.h"

namespace modelpool::process {
namespace {

Deadline deadline_from(std::int64_t remaining_ns) {
  if (remaining_ns < 0) return kNoDeadline;
  return Clock::now() + std::chrono::nanoseconds(remaining_ns);
}

class Worker {
 public:
  Worker(Channel channel, std::shared_ptr<SharedArena> arena, std::unique_ptr<Model> model)
      : channel_(std::move(channel)), arena_(std::move(arena)), outputs_(arena_->half(), arena_->half()),
        model_(std::move(model)) {}

  // Reads and dispatches until the server says stop or goes.
  int serve() {
    for (;;) {
      Result<Received> got = channel_.receive();
      if (!got.ok()) {
        if (got.status().code() == StatusCode::kShuttingDown) _exit(0);  // the server is gone
        std::fprintf(stderr, "modelpool worker %d: %s\n", getpid(), got.status().to_string().c_str());
        _exit(2);
      }
      if (got->fd >= 0) close(got->fd);
      WireReader r(got->bytes);
      const MessageHeader h = r.header();
      switch (h.type) {
        case MessageType::kInfer:
        case MessageType::kGenerate:
        case MessageType::kCountTokens: start_call(h, std::move(got->bytes)); break;
        case MessageType::kCancel: cancel(h.call); break;
        case MessageType::kRelease: outputs_.free(r.u64()); break;
        case MessageType::kPing: send(WireWriter({.type = MessageType::kPong})); break;
        case MessageType::kShutdown: return shutdown();
        default: break;
      }
    }
  }

 private:
  void send(const WireWriter& w) { channel_.send(w.bytes()).ignore(); }

  void start_call(MessageHeader h, std::string message) {
    std::stop_source stop;
    {
      std::lock_guard lock(mu_);
      calls_[h.call] = stop;
      ++running_;
    }
    std::thread([this, h, message = std::move(message), token = stop.get_token()] {
      WireWriter done({.type = MessageType::kDone, .call = h.call});
      if (h.type == MessageType::kInfer) infer(message, token, done);
      if (h.type == MessageType::kGenerate) generate(h.call, message, token, done);
      if (h.type == MessageType::kCountTokens) count_tokens(message, done);
      send(done);
      std::lock_guard lock(mu_);
      calls_.erase(h.call);
      if (--running_ == 0) idle_.notify_all();
    }).detach();
  }

  void cancel(std::uint64_t call) {
    std::lock_guard lock(mu_);
    if (auto it = calls_.find(call); it != calls_.end()) it->second.request_stop();
  }

  // Tensor descriptors of the server's half, as Tensors viewing the arena.
  Status inputs_of(const std::vector<TensorRef>& refs, std::vector<Tensor>* out) {
    for (const TensorRef& t : refs) {
      if (t.offset > arena_->half() || t.size > arena_->half() - t.offset) {
        return invalid_argument_error("worker protocol: input '" + t.name + "' lies outside the input half");
      }
      out->push_back({t.name, t.datatype, t.shape, Buffer(arena_, arena_->data() + t.offset, t.size)});
    }
    return {};
  }

  // An output as a descriptor: in place when its bytes already lie in the
  // arena (an echo of an input), else written once into our half.
  Result<TensorRef> output_ref(const Tensor& t) {
    TensorRef ref{t.name, t.datatype, t.shape, 0, t.data.size()};
    if (auto at = arena_->offset_of(t.data.data(), t.data.size())) {
      ref.offset = *at;
      return ref;
    }
    std::optional<std::uint64_t> at = outputs_.allocate(t.data.size());
    if (!at) {
      return invalid_argument_error("output '" + t.name + "' of " + std::to_string(t.data.size()) +
                                    " bytes does not fit the free part of the worker arena's output half (" +
                                    std::to_string(outputs_.capacity() - outputs_.used()) + " of " +
                                    std::to_string(outputs_.capacity()) + " bytes; process option arena_mb)");
    }
    if (!t.data.empty()) std::memcpy(arena_->data() + *at, t.data.data(), t.data.size());
    ref.offset = *at;
    return ref;
  }

  void infer(const std::string& message, std::stop_token stop, WireWriter& done) {
    InferCall in;
    Status s = read_infer_call(message, &in);
    Request request;
    request.id = std::move(in.id);
    request.parameters = std::move(in.parameters);
    const Deadline deadline = deadline_from(in.remaining_ns);
    if (s.ok()) s = inputs_of(in.inputs, &request.inputs);
    if (!s.ok()) return put(done, s);
    CollectSink sink;
    Result<InferStats> stats = model_->infer(request, sink, deadline, stop);
    std::vector<TensorRef> outs;
    for (const Tensor& t : sink.outputs) {
      if (!stats.ok()) break;
      Result<TensorRef> ref = output_ref(t);
      if (!ref.ok()) {
        for (const TensorRef& o : outs) outputs_.free(o.offset);
        stats = ref.status();
        break;
      }
      outs.push_back(std::move(*ref));
    }
    put(done, stats.status());
    if (!stats.ok()) return;
    done.i64(std::chrono::duration_cast<std::chrono::nanoseconds>(stats->queue_wait).count());
    done.i64(std::chrono::duration_cast<std::chrono::nanoseconds>(stats->run).count());
    put(done, outs);
    done.boolean(stats->generation.has_value());
    if (stats->generation) put(done, *stats->generation);
  }

  void generate(std::uint64_t call, const std::string& message, std::stop_token stop, WireWriter& done) {
    GenerateCall in;
    if (Status s = read_generate_call(message, &in); !s.ok()) return put(done, s);
    GenerationRequest& request = in.request;
    const Deadline deadline = deadline_from(in.remaining_ns);
    if (in.stream_text) {
      request.on_text = [this, call, stop](std::string_view piece) {
        WireWriter w({.type = MessageType::kText, .call = call});
        w.u8(0);
        w.str(piece);
        send(w);
        return !stop.stop_requested();
      };
    }
    if (in.stream_logprobs) {
      request.on_logprobs = [this, call](std::span<const TokenLogprob> entries) {
        WireWriter w({.type = MessageType::kText, .call = call});
        w.u8(1);
        put(w, std::vector<TokenLogprob>(entries.begin(), entries.end()));
        send(w);
      };
    }
    Result<GenerationResult> result = model_->generate(request, deadline, stop);
    put(done, result.status());
    if (result.ok()) put(done, *result);
  }

  void count_tokens(const std::string& message, WireWriter& done) {
    std::string text;
    if (Status s = read_count_tokens_call(message, &text); !s.ok()) return put(done, s);
    Result<std::size_t> n = model_->count_tokens(text);
    put(done, n.status());
    if (n.ok()) done.u64(*n);
  }

  int shutdown() {
    {
      std::lock_guard lock(mu_);
      for (auto& [id, stop] : calls_) stop.request_stop();
    }
    model_->shutdown(std::chrono::milliseconds(2000)).ignore();
    std::unique_lock lock(mu_);
    idle_.wait_for(lock, std::chrono::seconds(2), [&] { return running_ == 0; });
    return 0;
  }

  Channel channel_;
  std::shared_ptr<SharedArena> arena_;
  ArenaAllocator outputs_;
  std::unique_ptr<Model> model_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::map<std::uint64_t, std::stop_source> calls_;  // guarded by mu_
  std::size_t running_ = 0;                          // guarded by mu_
};

Status refuse(const Channel& channel, const Status& why) {
  WireWriter w({.type = MessageType::kLoadFailed});
  put(w, why);
  channel.send(w.bytes()).ignore();
  return why;
}

}  // namespace

int run_worker(const BackendCatalog& catalog, int channel_fd, pid_t parent) {
  // Die with the server, even when stopped; and never while it still lives.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;
  std::signal(SIGPIPE, SIG_IGN);
  Channel channel(channel_fd);

  Result<Received> hello = channel.receive();
  if (!hello.ok()) return 1;
  HelloMessage in;
  const Status s = read_hello(hello->bytes, &in);
  const ModelSpec& spec = in.spec;
  const ServeOptions& serve = in.serve;
  if (!s.ok() || WireReader(hello->bytes).header().type != MessageType::kHello || hello->fd < 0) {
    if (hello->fd >= 0) close(hello->fd);
    refuse(channel, s.ok() ? invalid_argument_error("worker protocol: expected a hello with the arena") : s).ignore();
    return 1;
  }
  auto arena = SharedArena::attach(hello->fd);
  if (!arena.ok()) return refuse(channel, arena.status()).ok() ? 0 : 1;
  auto backend = catalog.find(spec.backend);
  if (!backend.ok()) return refuse(channel, backend.status()).ok() ? 0 : 1;

  RegistryOptions registry_options;
  registry_options.unload_after_idle = std::chrono::milliseconds(0);
  Registry registry(registry_options, catalog);
  auto model = (*backend)->open(registry, spec, serve);
  if (!model.ok()) return refuse(channel, model.status()).ok() ? 0 : 1;

  const ModelStats stats = (*model)->stats();
  WorkerInfo info;
  info.capabilities = (*model)->capabilities();
  info.weights_bytes = stats.weights_bytes;
  info.instance_bytes = stats.instance_bytes;
  info.max_sequence_tokens = (*model)->max_sequence_tokens();
  info.describe = (*model)->describe();
  WireWriter ready({.type = MessageType::kReady});
  put(ready, info);
  if (!channel.send(ready.bytes()).ok()) return 1;

  Worker worker(std::move(channel), std::move(*arena), std::move(*model));
  const int code = worker.serve();
  std::fflush(nullptr);
  _exit(code);  // the model's threads may still hold it: no destructors
}

std::optional<int> run_worker_command(const BackendCatalog& catalog, int argc, char** argv) {
  if (argc < 1 || std::strcmp(argv[0], "worker") != 0) return std::nullopt;
  int fd = -1;
  long parent = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--fd") == 0) fd = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--parent") == 0) parent = std::atol(argv[i + 1]);
  }
  if (fd < 0 || parent <= 0) {
    std::fprintf(stderr, "modelpool worker: started by the server only (--fd N --parent PID)\n");
    return 2;
  }
  return run_worker(catalog, fd, static_cast<pid_t>(parent));
}

}  // namespace modelpool::process
