#include "server/handler_pool.h"

#include <system_error>

namespace modelpool::server {

HandlerPool::HandlerPool(std::size_t max_threads) : max_threads_(max_threads == 0 ? 1 : max_threads) {}

HandlerPool::~HandlerPool() {
  std::vector<std::thread> threads;
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return busy_ == 0 && launching_ == 0; });
    stopping_ = true;
    threads.swap(threads_);
  }
  work_cv_.notify_all();
  for (std::thread& t : threads) t.join();
}

void HandlerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    ++busy_;
    jobs_.push_back(std::move(job));
    // An idle thread per queued job: wake one. Otherwise start one if the
    // bound allows, else the job waits its turn.
    if (idle_ >= jobs_.size() || started_ >= max_threads_) {
      work_cv_.notify_one();
      return;
    }
    ++started_;  // reserved: another submit cannot start it too
    ++launching_;
  }
  // Starting a thread takes tens of microseconds: outside the lock.
  try {
    std::thread thread([this] { worker_loop(); });
    std::lock_guard lock(mu_);
    threads_.push_back(std::move(thread));
    if (--launching_ == 0) idle_cv_.notify_all();
    return;
  } catch (const std::system_error&) {
  }
  // No thread: the job waits for a running one; with none, it runs here.
  std::function<void()> orphan;
  {
    std::lock_guard lock(mu_);
    --started_;
    if (--launching_ == 0) idle_cv_.notify_all();
    if (started_ > 0 || jobs_.empty()) return;
    orphan = std::move(jobs_.front());
    jobs_.pop_front();
  }
  orphan();
  orphan = nullptr;
  std::lock_guard lock(mu_);
  if (--busy_ == 0) idle_cv_.notify_all();
}

void HandlerPool::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    work_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // stopping, with nothing left
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // drops what the job held before counting it done
    lock.lock();
    if (--busy_ == 0) idle_cv_.notify_all();
  }
}

std::size_t HandlerPool::busy() const {
  std::lock_guard lock(mu_);
  return busy_;
}

std::size_t HandlerPool::threads() const {
  std::lock_guard lock(mu_);
  return started_;
}

void HandlerPool::wait_idle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return busy_ == 0; });
}

}  // namespace modelpool::server
