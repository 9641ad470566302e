// HandlerPool: the threads that run request handlers which may block (an
// inference, a generation, a model load), so the I/O threads never do.
//
// Bounded: at most `max_threads` threads, started lazily (one per job that
// finds no idle thread, up to the bound) and kept until the pool is
// destroyed, which joins them. Jobs beyond the bound wait in one FIFO queue
// and start in submission order as threads come free. A thread is never
// started while the pool's lock is held.
//
//   HandlerPool pool(64);
//   pool.submit([ex] { handle(ex); });
//   pool.wait_idle();  // every job submitted so far has returned
//
// Thread safety: every method may be called from any thread, except that a
// job must not destroy its own pool.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace modelpool::server {

class HandlerPool {
 public:
  // REQUIRES: max_threads >= 1.
  explicit HandlerPool(std::size_t max_threads);
  // Waits for every job queued or running, then joins the threads.
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Runs `job` on a pool thread: at once on an idle one, on a new one while
  // fewer than max_threads run, else after the jobs queued before it. When a
  // thread cannot be started (the system refuses one) the job waits for a
  // running thread, or runs on the caller if the pool has none.
  void submit(std::function<void()> job);

  // Jobs queued or running now.
  std::size_t busy() const;
  // Threads started (never more than max_threads()).
  std::size_t threads() const;
  std::size_t max_threads() const { return max_threads_; }
  // Waits until no job is queued or running.
  void wait_idle();

 private:
  void worker_loop();

  const std::size_t max_threads_;  // constant after construction

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // a job was queued, or stopping_
  std::condition_variable idle_cv_;  // busy_ or launching_ reached 0
  std::deque<std::function<void()>> jobs_;  // guarded by mu_; FIFO
  std::size_t busy_ = 0;      // jobs queued or running; guarded by mu_
  std::size_t idle_ = 0;      // threads waiting for a job; guarded by mu_
  std::size_t started_ = 0;   // threads started or being started; guarded by mu_
  std::size_t launching_ = 0; // of which not yet in threads_; guarded by mu_
  bool stopping_ = false;     // guarded by mu_
  std::vector<std::thread> threads_;  // guarded by mu_; joined by the destructor
};

}  // namespace modelpool::server
