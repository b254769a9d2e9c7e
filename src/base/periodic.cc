#include "base/periodic.h"

#include <algorithm>
#include <utility>

namespace kmra {

PeriodicThread::PeriodicThread(std::chrono::seconds interval, First first,
                               std::function<void()> task)
    : interval_(std::max(interval, std::chrono::seconds(1))), task_(std::move(task)) {
  thread_ = std::thread([this, first] { Loop(first); });
}

PeriodicThread::~PeriodicThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeriodicThread::Loop(First first) {
  std::unique_lock<std::mutex> lock(mu_);
  bool run = first == First::kRunNow;
  while (!stopping_) {
    if (run) {
      lock.unlock();
      task_();
      lock.lock();
    }
    run = true;
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace kmra
