#include "cli/tree_pss.h"

#include "modelpool/memory.h"

namespace modelpool::cli {

TreePss::TreePss(const Model& model, std::chrono::milliseconds period)
    : model_(model), period_(period), thread_([this](std::stop_token st) {
        while (!st.stop_requested()) {
          sample();
          std::this_thread::sleep_for(period_);
        }
      }) {}

std::size_t TreePss::now(const Model& model) {
  auto pss = [](pid_t pid) -> std::size_t {
    Result<std::size_t> b = read_pss_bytes(pid);
    return b.ok() ? *b : 0;
  };
  std::size_t total = pss(0);
  if (auto workers = model.stats().workers) {
    for (int pid : workers->pids) total += pss(pid);
  }
  return total;
}

void TreePss::sample() {
  const std::size_t total = now(model_);
  std::size_t seen = peak_.load();
  while (total > seen && !peak_.compare_exchange_weak(seen, total)) {
  }
}

std::size_t TreePss::peak_bytes() {
  if (thread_.joinable()) {
    sample();
    thread_.request_stop();
    thread_.join();
  }
  return peak_.load();
}

}  // namespace modelpool::cli
