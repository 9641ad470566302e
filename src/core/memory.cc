#include "modelpool/memory.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <cstring>
#include <string>

namespace modelpool {

Result<std::size_t> read_pss_bytes(pid_t pid) {
  const std::string path =
      pid == 0 ? "/proc/self/smaps_rollup" : "/proc/" + std::to_string(pid) + "/smaps_rollup";
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return not_found_error("cannot open " + path + ": " + std::strerror(errno));
  char line[256];
  std::size_t kb = 0;
  bool found = false;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "Pss:", 4) == 0) {
      kb = std::strtoull(line + 4, nullptr, 10);
      found = true;
      break;
    }
  }
  std::fclose(f);
  if (!found) return internal_error("no Pss line in " + path);
  return kb * 1024;
}

PssSampler::PssSampler(std::chrono::milliseconds period) {
  sample();
  thread_ = std::jthread([this, period](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any wake;  // only the stop request wakes it early
    std::unique_lock lock(mu);
    for (;;) {
      wake.wait_for(lock, stop, period, [] { return false; });
      if (stop.stop_requested()) return;
      sample();
    }
  });
}

PssSampler::~PssSampler() = default;

void PssSampler::sample() {
  auto pss = read_pss_bytes();
  if (!pss.ok()) return;
  last_.store(*pss, std::memory_order_relaxed);
  std::size_t prev = peak_.load();
  while (prev < *pss && !peak_.compare_exchange_weak(prev, *pss)) {
  }
}

std::size_t PssSampler::peak_bytes() {
  sample();
  return peak_.load();
}

}  // namespace modelpool
