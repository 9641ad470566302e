#include "core/deadline_stop.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace modelpool {

// The process's one timer: fires each registered DeadlineStop at its
// deadline. Firing happens off its lock (a stop callback may be slow).
struct DeadlineTimer {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::pair<Deadline, std::uint64_t>, DeadlineStop*> due;  // guarded by mu
  std::uint64_t next_id = 1;                                         // guarded by mu
  bool stopping = false;                                             // guarded by mu
  std::thread thread;

  DeadlineTimer() : thread([this] { loop(); }) {}
  ~DeadlineTimer() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    thread.join();
  }

  static DeadlineTimer& get() {
    static DeadlineTimer timer;
    return timer;
  }

  void loop() {
    std::unique_lock lock(mu);
    std::vector<std::stop_source> firing;
    while (!stopping) {
      const Clock::time_point now = Clock::now();
      while (!due.empty() && due.begin()->first.first <= now) {
        DeadlineStop* stop = due.begin()->second;
        stop->expired_.store(true, std::memory_order_release);
        firing.push_back(stop->source_);  // shares the state: safe once it is gone
        due.erase(due.begin());
      }
      if (!firing.empty()) {
        lock.unlock();
        for (std::stop_source& s : firing) s.request_stop();
        firing.clear();
        lock.lock();
        continue;
      }
      if (due.empty()) {
        cv.wait(lock);
      } else {
        // A copy: the entry may be erased while this waits.
        const Deadline next = due.begin()->first.first;
        cv.wait_until(lock, next);
      }
    }
  }
};

DeadlineStop::DeadlineStop(Deadline deadline, std::stop_token caller) : caller_(std::move(caller)) {
  if (deadline == kNoDeadline) return;
  registered_ = true;
  deadline_ = deadline;
  if (caller_.stop_possible()) forward_.emplace(caller_, Forward{source_});
  DeadlineTimer& timer = DeadlineTimer::get();
  bool earliest = false;
  {
    std::lock_guard lock(timer.mu);
    id_ = timer.next_id++;
    auto it = timer.due.emplace(std::pair{deadline, id_}, this).first;
    earliest = it == timer.due.begin();
  }
  if (earliest) timer.cv.notify_one();
}

DeadlineStop::~DeadlineStop() {
  if (!registered_) return;
  forward_.reset();
  DeadlineTimer& timer = DeadlineTimer::get();
  std::lock_guard lock(timer.mu);
  timer.due.erase({deadline_, id_});
}

}  // namespace modelpool
