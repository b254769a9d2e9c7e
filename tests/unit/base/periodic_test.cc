#include "base/periodic.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace kmra {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

// The task runs at once when asked to, and a destructor does not wait out the hour-long interval
// (if it did, this test would hang until ctest's timeout).
TEST(PeriodicThreadTest, RunsAtOnceThenStopsWithoutWaitingTheInterval) {
  std::mutex mu;
  std::condition_variable cv;
  int runs = 0;
  {
    PeriodicThread t(hours(1), PeriodicThread::First::kRunNow, [&] {
      std::lock_guard<std::mutex> lock(mu);
      ++runs;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return runs > 0; });
  }
  EXPECT_EQ(runs, 1);
}

TEST(PeriodicThreadTest, WaitFirstDoesNotRunBeforeTheInterval) {
  std::atomic<int> runs{0};
  {
    PeriodicThread t(hours(1), PeriodicThread::First::kWait, [&] { ++runs; });
  }
  EXPECT_EQ(runs.load(), 0);
}

// An interval below one second is raised to one: the second run comes no sooner than a second
// after the first (a lower bound only, which a slow machine cannot break).
TEST(PeriodicThreadTest, RunsAgainNoSoonerThanOneSecond) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::chrono::steady_clock::time_point> runs;
  PeriodicThread t(seconds(0), PeriodicThread::First::kRunNow, [&] {
    std::lock_guard<std::mutex> lock(mu);
    runs.push_back(std::chrono::steady_clock::now());
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return runs.size() >= 2; });
  EXPECT_GE(runs[1] - runs[0], seconds(1));
}

}  // namespace
}  // namespace kmra
