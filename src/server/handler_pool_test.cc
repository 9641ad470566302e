#include "server/handler_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace modelpool::server {
namespace {

// Holds jobs until opened.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

bool eventually(const std::function<bool()>& pred) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(HandlerPoolTest, NeverMoreThreadsThanTheBound) {
  HandlerPool pool(3);
  Gate gate;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::mutex ids_mu;
  std::set<std::thread::id> ids;
  for (int i = 0; i < 10; ++i) {
    pool.submit([&] {
      const int now = ++running;
      int seen = most.load();
      while (seen < now && !most.compare_exchange_weak(seen, now)) {
      }
      {
        std::lock_guard lock(ids_mu);
        ids.insert(std::this_thread::get_id());
      }
      gate.wait();
      --running;
    });
  }
  ASSERT_TRUE(eventually([&] { return running.load() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(running.load(), 3);
  EXPECT_EQ(pool.threads(), 3u);
  EXPECT_EQ(pool.busy(), 10u);
  gate.open();
  pool.wait_idle();
  EXPECT_EQ(pool.busy(), 0u);
  EXPECT_EQ(most.load(), 3);
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(pool.threads(), 3u);
}

TEST(HandlerPoolTest, JobsBeyondTheBoundRunInSubmissionOrder) {
  HandlerPool pool(1);
  Gate gate;
  std::mutex mu;
  std::vector<int> order;
  pool.submit([&] { gate.wait(); });
  for (int i = 0; i < 20; ++i) {
    pool.submit([&, i] {
      std::lock_guard lock(mu);
      order.push_back(i);
    });
  }
  EXPECT_EQ(pool.busy(), 21u);
  gate.open();
  pool.wait_idle();
  std::vector<int> want(20);
  for (int i = 0; i < 20; ++i) want[i] = i;
  EXPECT_EQ(order, want);
}

TEST(HandlerPoolTest, IdleThreadsAreReusedNotMultiplied) {
  HandlerPool pool(8);
  for (int i = 0; i < 50; ++i) {
    pool.submit([] {});
    pool.wait_idle();
  }
  EXPECT_EQ(pool.threads(), 1u);
}

TEST(HandlerPoolTest, WaitIdleWaitsForRunningAndQueuedJobs) {
  HandlerPool pool(2);
  std::atomic<int> done{0};
  for (int i = 0; i < 6; ++i) {
    pool.submit([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ++done;
    });
  }
  pool.wait_idle();
  EXPECT_EQ(done.load(), 6);
  EXPECT_EQ(pool.busy(), 0u);
}

TEST(HandlerPoolTest, DestructionRunsWhatWasQueuedAndJoins) {
  std::atomic<int> done{0};
  {
    HandlerPool pool(2);
    for (int i = 0; i < 6; ++i) {
      pool.submit([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        ++done;
      });
    }
  }
  EXPECT_EQ(done.load(), 6);
}

TEST(HandlerPoolTest, AJobMaySubmitAnother) {
  HandlerPool pool(1);
  std::atomic<bool> inner{false};
  pool.submit([&] { pool.submit([&] { inner = true; }); });
  ASSERT_TRUE(eventually([&] { return inner.load(); }));
  pool.wait_idle();
}

}  // namespace
}  // namespace modelpool::server
