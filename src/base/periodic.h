// A background thread that runs a task every `interval` until it is destroyed. The destructor
// wakes the thread and waits for a task in progress to end, so the task may use anything that
// outlives the PeriodicThread (declare it last among the members the task uses).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace kmra {

class PeriodicThread {
 public:
  enum class First { kRunNow, kWait };

  // Starts the thread: `task` runs at once (kRunNow) or after the first interval (kWait), then
  // every `interval` (at least one second).
  PeriodicThread(std::chrono::seconds interval, First first, std::function<void()> task);
  ~PeriodicThread();

  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

 private:
  void Loop(First first);

  const std::chrono::seconds interval_;
  const std::function<void()> task_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace kmra
