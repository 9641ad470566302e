// The worker transport's cost, between two real processes (issue 10).
//
//   build/bin/transport_benchmark [--quick] [--rounds N] [--json FILE]
//
// It re-executes itself as the worker (posix_spawn of /proc/self/exe with
// `--child 3 --stream 4`), hands it a sealed memfd arena over a SEQPACKET
// Channel with SCM_RIGHTS and checks that the worker's first answer comes
// from the pid it started, as WorkerClient does; then, for 1 KiB, 1 MiB,
// 10 MiB and 100 MiB, in interleaved rounds:
//
//   handoff  the block is already written: send a kInfer with its TensorRef,
//            the child decodes and bounds-checks it and answers a kDone.
//            One-way = round trip / 2. No byte of the tensor moves.
//   ping     an empty kPing / kPong round trip: the channel's floor.
//   cycle    allocate a block in the input half, memcpy the payload from a
//            private buffer into it, hand it off, the child sums every
//            64-bit word in place (its time is "read"), answers, the block is
//            freed: what an input costs WorkerClient::infer.
//   memcpy   the peer: single-thread memcpy of the same bytes between two
//            private, pre-faulted buffers of this process.
//   socket   the peer: the same bytes through a SOCK_STREAM socketpair, the
//            child reading all of them into its buffer and summing them.
//
// Every answer carries the child's sum and is checked against the payload's.
// Before the rounds, one cold cycle per size (ascending, so most of its pages
// are touched for the first time) records first-touch cost and page faults
// (getrusage minor faults, the parent's and the child's).
//
// This measures the transport only: the real worker also starts a thread per
// call and runs a model; bench/transport measures that through the server.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "process/arena.h"
#include "process/channel.h"
#include "process/wire.h"

extern char** environ;

namespace modelpool::process {
namespace {

constexpr int kChannelFd = 3;
constexpr int kStreamFd = 4;
// Header flag of this benchmark's kInfer: the child reads every byte.
constexpr std::uint16_t kReadInPlace = 1;
constexpr std::size_t kMaxSize = std::size_t{100} << 20;

using SteadyClock = std::chrono::steady_clock;

double ns_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::nano>(SteadyClock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "transport_benchmark: %s\n", what.c_str());
  std::exit(1);
}

void check(const Status& s, const char* what) {
  if (!s.ok()) die(std::string(what) + ": " + s.to_string());
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// The sum of the 64-bit words of [p, p + n): every byte is read. Four
// independent sums, so that the pass is bound by memory, not by one chain of
// dependent adds (a single sum read 1 MiB in L2 at 5.6 GiB/s).
std::uint64_t word_sum(const char* p, std::size_t n) {
  std::uint64_t s[4] = {0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + i, 32);
    s[0] += w[0];
    s[1] += w[1];
    s[2] += w[2];
    s[3] += w[3];
  }
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    s[0] += w;
  }
  return s[0] + s[1] + s[2] + s[3];
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) die(std::string("write: ") + std::strerror(errno));
    p += k;
    n -= static_cast<std::size_t>(k);
  }
}

// False on end of stream before any byte.
bool read_all(int fd, char* p, std::size_t n) {
  bool first = true;
  while (n > 0) {
    const ssize_t k = read(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k == 0 && first) return false;
    if (k <= 0) die(std::string("read: ") + std::strerror(errno));
    first = false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// A private buffer with every page touched.
std::unique_ptr<char[]> prefaulted(std::size_t n, char fill) {
  std::unique_ptr<char[]> p(new char[n]);
  std::memset(p.get(), fill, n);
  return p;
}

// ---- The child: the worker's side. ----

int run_child(int channel_fd, int stream_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  Channel channel(channel_fd);
  Result<Received> hello = channel.receive();
  if (!hello.ok() || hello->fd < 0) return 1;
  WireReader hr(hello->bytes);
  if (!hr.finish().ok() || hr.header().type != MessageType::kHello) return 1;
  auto arena = SharedArena::attach(hello->fd);
  if (!arena.ok()) return 1;
  check(channel.send(WireWriter({.type = MessageType::kReady}).bytes()), "child: ready");
  const std::unique_ptr<char[]> stream_buffer = prefaulted(kMaxSize, 0);

  for (;;) {
    pollfd fds[2] = {{channel.fd(), POLLIN, 0}, {stream_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      std::uint64_t n = 0;
      if (!read_all(stream_fd, reinterpret_cast<char*>(&n), 8)) return 0;
      if (n > kMaxSize) return 1;
      read_all(stream_fd, stream_buffer.get(), n);
      const std::uint64_t sum = word_sum(stream_buffer.get(), n);
      write_all(stream_fd, reinterpret_cast<const char*>(&sum), 8);
    }
    if ((fds[0].revents & (POLLIN | POLLHUP)) == 0) continue;
    Result<Received> got = channel.receive();
    if (!got.ok()) return got.status().code() == StatusCode::kShuttingDown ? 0 : 1;
    WireReader r(got->bytes);
    const MessageHeader h = r.header();
    if (h.type == MessageType::kPing) {
      check(channel.send(WireWriter({.type = MessageType::kPong}).bytes()), "child: pong");
      continue;
    }
    if (h.type == MessageType::kShutdown) return 0;
    if (h.type != MessageType::kInfer) return 1;
    // As the worker decodes a kInfer (worker_main.cc): id, inputs,
    // parameters, remaining time; every input checked against the half.
    const std::string id = r.str();
    std::vector<TensorRef> refs;
    get(r, &refs);
    Parameters parameters;
    get(r, &parameters);
    r.i64();
    Status s = r.finish();
    for (const TensorRef& t : refs) {
      if (s.ok() && (t.offset > (*arena)->half() || t.size > (*arena)->half() - t.offset)) {
        s = invalid_argument_error("input '" + t.name + "' lies outside the input half");
      }
    }
    std::uint64_t sum = 0;
    std::int64_t read_ns = 0;
    long faults = 0;
    if (s.ok() && (h.flags & kReadInPlace) != 0) {
      const long f0 = minor_faults();
      const auto t0 = SteadyClock::now();
      for (const TensorRef& t : refs) sum += word_sum((*arena)->data() + t.offset, t.size);
      read_ns = static_cast<std::int64_t>(ns_since(t0));
      faults = minor_faults() - f0;
    }
    // A kDone as the worker writes one (status, wait, run time, outputs,
    // no generation), then this benchmark's sum and fault count.
    WireWriter done({.type = MessageType::kDone, .call = h.call});
    put(done, s);
    done.i64(0);
    done.i64(read_ns);
    put(done, std::vector<TensorRef>{});
    done.boolean(false);
    done.u64(sum);
    done.i64(faults);
    check(channel.send(done.bytes()), "child: done");
  }
}

// ---- The parent: the server's side. ----

struct Child {
  pid_t pid = 0;
  Channel channel;
  int stream_fd = -1;
  std::shared_ptr<SharedArena> arena;
  std::unique_ptr<ArenaAllocator> inputs;
  std::uint64_t next_call = 1;
};

Child spawn_child(std::size_t arena_bytes) {
  Child c;
  auto arena = SharedArena::create(arena_bytes);
  check(arena.status(), "arena");
  c.arena = std::move(*arena);
  c.inputs = std::make_unique<ArenaAllocator>(0, c.arena->half());
  auto channels = Channel::pair();
  check(channels.status(), "channel");
  auto& [server_end, worker_end] = *channels;
  int streams[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, streams) != 0) die("socketpair");

  // The ends go to 3 and 4 in the child; move them out of the way first so
  // that no dup2 overwrites the other's source.
  const int channel_src = fcntl(worker_end.fd(), F_DUPFD_CLOEXEC, 10);
  const int stream_src = fcntl(streams[1], F_DUPFD_CLOEXEC, 10);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, channel_src, kChannelFd);
  posix_spawn_file_actions_adddup2(&actions, stream_src, kStreamFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, kStreamFd + 1);
  std::string exe = "/proc/self/exe", child = "--child", fd3 = std::to_string(kChannelFd),
              stream = "--stream", fd4 = std::to_string(kStreamFd);
  char* argv[] = {exe.data(), child.data(), fd3.data(), stream.data(), fd4.data(), nullptr};
  const int spawned = posix_spawn(&c.pid, exe.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(channel_src);
  close(stream_src);
  close(streams[1]);
  worker_end = Channel();
  if (spawned != 0) die(std::string("posix_spawn: ") + std::strerror(spawned));
  c.stream_fd = streams[0];
  c.channel = std::move(server_end);

  check(c.channel.send(WireWriter({.type = MessageType::kHello}).bytes(), c.arena->fd()), "hello");
  Result<Received> ready = c.channel.receive();
  check(ready.status(), "ready");
  if (!ready->peer || ready->peer->pid != c.pid || ready->peer->uid != geteuid()) {
    die("the ready message did not come from the child");
  }
  if (WireReader(ready->bytes).header().type != MessageType::kReady) die("expected ready");
  return c;
}

struct Reply {
  std::uint64_t sum = 0;
  double read_ns = 0;
  long child_faults = 0;
};

// One kInfer naming [offset, offset + size) and its kDone.
Reply hand_off(Child& c, std::uint64_t offset, std::uint64_t size, bool read) {
  WireWriter w({.type = MessageType::kInfer,
                .flags = read ? kReadInPlace : std::uint16_t{0},
                .call = c.next_call++});
  w.str("bench");
  put(w, std::vector<TensorRef>{{"x", "UINT8", {static_cast<std::int64_t>(size)}, offset, size}});
  put(w, Parameters{});
  w.i64(-1);
  check(c.channel.send(w.bytes()), "infer");
  Result<Received> got = c.channel.receive();
  check(got.status(), "done");
  WireReader r(got->bytes);
  Status status;
  get(r, &status);
  r.i64();
  Reply reply;
  reply.read_ns = static_cast<double>(r.i64());
  std::vector<TensorRef> outputs;
  get(r, &outputs);
  r.boolean();
  reply.sum = r.u64();
  reply.child_faults = static_cast<long>(r.i64());
  check(r.finish(), "done message");
  check(status, "child");
  return reply;
}

struct CycleTimes {
  double total_ns = 0;
  double write_ns = 0;  // allocate + memcpy into the arena
  Reply reply;
};

CycleTimes full_cycle(Child& c, const char* src, std::size_t size) {
  CycleTimes t;
  const auto t0 = SteadyClock::now();
  const std::optional<std::uint64_t> at = c.inputs->allocate(size);
  if (!at) die("the arena is full");
  std::memcpy(c.arena->data() + *at, src, size);
  t.write_ns = ns_since(t0);
  t.reply = hand_off(c, *at, size, true);
  if (!c.inputs->free(*at)) die("free");
  t.total_ns = ns_since(t0);
  return t;
}

double socket_cycle(Child& c, const char* src, std::size_t size, std::uint64_t* sum) {
  const auto t0 = SteadyClock::now();
  const std::uint64_t n = size;
  write_all(c.stream_fd, reinterpret_cast<const char*>(&n), 8);
  write_all(c.stream_fd, src, size);
  if (!read_all(c.stream_fd, reinterpret_cast<char*>(sum), 8)) die("the child closed the stream");
  return ns_since(t0);
}

double ping(Child& c) {
  const auto t0 = SteadyClock::now();
  check(c.channel.send(WireWriter({.type = MessageType::kPing}).bytes()), "ping");
  Result<Received> got = c.channel.receive();
  check(got.status(), "pong");
  if (WireReader(got->bytes).header().type != MessageType::kPong) die("expected pong");
  return ns_since(t0);
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t i =
      std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  return v[i];
}
double median(const std::vector<double>& v) {
  return quantile(v, 0.5);
}

double gib_per_s(std::size_t bytes, double ns) {
  return static_cast<double>(bytes) / (ns * 1e-9) / static_cast<double>(1ull << 30);
}

std::string size_name(std::size_t n) {
  if (n >= (1u << 20)) return std::to_string(n >> 20) + " MiB";
  return std::to_string(n >> 10) + " KiB";
}

// What one size collected over all rounds (ns per operation).
struct Series {
  std::vector<double> handoff, cycle, write, read, memcpy, socket;
  std::vector<double> unread;  // a cycle less the child's pass: what moving the bytes costs
  std::vector<double> cycle_round_medians, memcpy_round_medians;
  double cold_cycle_ns = 0, cold_write_ns = 0, cold_read_ns = 0;
  long cold_parent_faults = 0, cold_child_faults = 0, warm_child_faults = 0;
};

struct Settings {
  int rounds = 7;
  int handoffs = 2000;                       // per size and round
  std::size_t bytes_per_round = 512u << 20;  // per measure, size and round
  int max_iterations = 2000;
  std::string json;
};

int run_parent(const Settings& settings) {
  const std::vector<std::size_t> sizes = {1u << 10, 1u << 20, 10u << 20, kMaxSize};
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  Child c = spawn_child(2 * (kMaxSize + page));

  const std::unique_ptr<char[]> src = prefaulted(kMaxSize, 0);
  for (std::size_t i = 0; i < kMaxSize; ++i) src[i] = static_cast<char>(i * 2654435761u >> 13);
  const std::unique_ptr<char[]> dst = prefaulted(kMaxSize, 1);
  std::map<std::size_t, std::uint64_t> expected;
  for (std::size_t n : sizes) expected[n] = word_sum(src.get(), n);
  auto verify = [&](std::uint64_t sum, std::size_t n, const char* what) {
    if (sum != expected[n])
      die(std::string(what) + ": the child's sum is wrong at " + size_name(n));
  };

  std::map<std::size_t, Series> series;
  // Cold: the arena's pages are touched for the first time here.
  for (std::size_t n : sizes) {
    Series& s = series[n];
    const long f0 = minor_faults();
    const CycleTimes t = full_cycle(c, src.get(), n);
    s.cold_parent_faults = minor_faults() - f0;
    s.cold_child_faults = t.reply.child_faults;
    s.cold_cycle_ns = t.total_ns;
    s.cold_write_ns = t.write_ns;
    s.cold_read_ns = t.reply.read_ns;
    verify(t.reply.sum, n, "cold cycle");
  }
  // Warm-up of every path once, not recorded.
  for (std::size_t n : sizes) {
    full_cycle(c, src.get(), n);
    std::memcpy(dst.get(), src.get(), n);
    std::uint64_t sum = 0;
    socket_cycle(c, src.get(), n, &sum);
  }

  std::vector<double> pings;
  for (int round = 0; round < settings.rounds; ++round) {
    for (int i = 0; i < settings.handoffs; ++i) pings.push_back(ping(c));
    for (std::size_t n : sizes) {
      Series& s = series[n];
      const int k = static_cast<int>(std::clamp<std::size_t>(
          settings.bytes_per_round / n, 5, static_cast<std::size_t>(settings.max_iterations)));
      // Hand-off of a block written once: no byte moves.
      const std::optional<std::uint64_t> at = c.inputs->allocate(n);
      if (!at) die("the arena is full");
      std::memcpy(c.arena->data() + *at, src.get(), n);
      for (int i = 0; i < settings.handoffs; ++i) {
        const auto t0 = SteadyClock::now();
        hand_off(c, *at, n, false);
        s.handoff.push_back(ns_since(t0));
      }
      c.inputs->free(*at);

      std::vector<double> memcpys, cycles;
      for (int i = 0; i < k; ++i) {
        const auto t0 = SteadyClock::now();
        std::memcpy(dst.get(), src.get(), n);
        memcpys.push_back(ns_since(t0));
        asm volatile("" : : "r"(dst.get()) : "memory");
      }
      for (int i = 0; i < k; ++i) {
        const CycleTimes t = full_cycle(c, src.get(), n);
        verify(t.reply.sum, n, "cycle");
        cycles.push_back(t.total_ns);
        s.write.push_back(t.write_ns);
        s.read.push_back(t.reply.read_ns);
        s.unread.push_back(t.total_ns - t.reply.read_ns);
        s.warm_child_faults += t.reply.child_faults;
      }
      for (int i = 0; i < k; ++i) {
        std::uint64_t sum = 0;
        s.socket.push_back(socket_cycle(c, src.get(), n, &sum));
        verify(sum, n, "socket");
      }
      s.memcpy.insert(s.memcpy.end(), memcpys.begin(), memcpys.end());
      s.cycle.insert(s.cycle.end(), cycles.begin(), cycles.end());
      s.memcpy_round_medians.push_back(median(memcpys));
      s.cycle_round_medians.push_back(median(cycles));
    }
  }
  check(c.channel.send(WireWriter({.type = MessageType::kShutdown}).bytes()), "shutdown");
  int wstatus = 0;
  waitpid(c.pid, &wstatus, 0);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) die("the child failed");

  // Table.
  const double ping_ns = median(pings);
  std::printf("rounds: %d (interleaved: per round and size, hand-off x%d, memcpy, cycle, socket)\n",
              settings.rounds, settings.handoffs);
  std::printf("channel floor: empty kPing/kPong round trip, median %.1f us (one-way %.1f us)\n\n",
              ping_ns / 1e3, ping_ns / 2e3);
  std::printf(
      "| size | hand-off one-way p50 (min / p99) | full cycle | memcpy | cycle / memcpy | "
      "cycle less the read / memcpy | write into arena | read-only (in place) | Unix socket | "
      "cycle / socket |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t n : sizes) {
    const Series& s = series[n];
    const double cycle = median(s.cycle), mc = median(s.memcpy), sock = median(s.socket);
    std::printf(
        "| %s | %.1f us (%.1f / %.1f) | %.2f GiB/s (%.1f us) | %.2f GiB/s | %.2f | %.2f | %.2f "
        "GiB/s | "
        "%.2f GiB/s | %.2f GiB/s | %.2fx |\n",
        size_name(n).c_str(), median(s.handoff) / 2e3, quantile(s.handoff, 0) / 2e3,
        quantile(s.handoff, 0.99) / 2e3, gib_per_s(n, cycle), cycle / 1e3, gib_per_s(n, mc),
        mc / cycle, mc / median(s.unread), gib_per_s(n, median(s.write)),
        gib_per_s(n, median(s.read)), gib_per_s(n, sock), sock / cycle);
  }
  std::printf("\ncycle / memcpy per round (min-max):");
  for (std::size_t n : sizes) {
    const Series& s = series[n];
    double lo = INFINITY, hi = 0;
    for (std::size_t i = 0; i < s.cycle_round_medians.size(); ++i) {
      const double r = s.memcpy_round_medians[i] / s.cycle_round_medians[i];
      lo = std::min(lo, r);
      hi = std::max(hi, r);
    }
    std::printf(" %s %.2f-%.2f;", size_name(n).c_str(), lo, hi);
  }
  std::printf("\n\nfirst touch (one cold cycle per size, ascending; minor page faults):\n");
  std::printf(
      "| size | cold cycle | warm cycle p50 | cold write | cold read | faults parent / child | "
      "child faults, all warm cycles |\n|---|---|---|---|---|---|---|\n");
  for (std::size_t n : sizes) {
    const Series& s = series[n];
    std::printf("| %s | %.1f us | %.1f us | %.2f GiB/s | %.2f GiB/s | %ld / %ld | %ld |\n",
                size_name(n).c_str(), s.cold_cycle_ns / 1e3, median(s.cycle) / 1e3,
                gib_per_s(n, s.cold_write_ns), gib_per_s(n, s.cold_read_ns), s.cold_parent_faults,
                s.cold_child_faults, s.warm_child_faults);
  }

  if (!settings.json.empty()) {
    FILE* f = std::fopen(settings.json.c_str(), "w");
    if (f == nullptr) die("cannot write " + settings.json);
    std::fprintf(f, "{\"rounds\": %d, \"ping_round_trip_ns\": %.0f, \"results\": [",
                 settings.rounds, ping_ns);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::size_t n = sizes[i];
      const Series& s = series[n];
      std::fprintf(
          f,
          "%s\n  {\"bytes\": %zu, \"handoff_one_way_ns_p50\": %.0f, \"handoff_one_way_ns_min\": "
          "%.0f, "
          "\"handoff_one_way_ns_p99\": %.0f, \"cycle_ns_p50\": %.0f, \"cycle_gib_s\": %.3f, "
          "\"memcpy_gib_s\": %.3f, \"cycle_over_memcpy\": %.3f, \"unread_cycle_over_memcpy\": "
          "%.3f, "
          "\"write_gib_s\": %.3f, "
          "\"read_only_gib_s\": %.3f, \"socket_gib_s\": %.3f, \"cold_cycle_ns\": %.0f, "
          "\"cold_parent_faults\": %ld, \"cold_child_faults\": %ld, \"samples\": %zu}",
          i == 0 ? "" : ",", n, median(s.handoff) / 2, quantile(s.handoff, 0) / 2,
          quantile(s.handoff, 0.99) / 2, median(s.cycle), gib_per_s(n, median(s.cycle)),
          gib_per_s(n, median(s.memcpy)), median(s.memcpy) / median(s.cycle),
          median(s.memcpy) / median(s.unread), gib_per_s(n, median(s.write)),
          gib_per_s(n, median(s.read)), gib_per_s(n, median(s.socket)), s.cold_cycle_ns,
          s.cold_parent_faults, s.cold_child_faults, s.cycle.size());
    }
    std::fprintf(f, "\n]}\n");
    std::fclose(f);
  }
  return 0;
}

}  // namespace
}  // namespace modelpool::process

int main(int argc, char** argv) {
  using modelpool::process::Settings;
  std::signal(SIGPIPE, SIG_IGN);
  Settings settings;
  int child_fd = -1, stream_fd = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--child" && has_value) {
      child_fd = std::atoi(argv[++i]);
    } else if (a == "--stream" && has_value) {
      stream_fd = std::atoi(argv[++i]);
    } else if (a == "--quick") {
      settings.rounds = 3;
      settings.handoffs = 300;
      settings.bytes_per_round = 128u << 20;
      settings.max_iterations = 300;
    } else if (a == "--rounds" && has_value) {
      settings.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--json" && has_value) {
      settings.json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: transport_benchmark [--quick] [--rounds N] [--json FILE]\n");
      return 2;
    }
  }
  if (child_fd >= 0) return modelpool::process::run_child(child_fd, stream_fd);
  return modelpool::process::run_parent(settings);
}
