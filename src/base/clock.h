// Time for the whole project: an injectable Clock plus strict parsing and formatting of instants.
//
// Code that checks validity windows (certificates, CRLs, collateral, nonces) takes a `const Clock&`
// or an explicit `int64_t at_unix`, never calls time() itself, so tests can pin the time.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kmra {

// A source of the current time in unix seconds (UTC). Implementations are thread safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since 1970-01-01T00:00:00Z.
  virtual int64_t NowUnix() const = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  int64_t NowUnix() const override;
  // A process-wide instance, for callers that were not given a clock.
  static const SystemClock& Get();
};

// A clock that only moves when told to. Thread safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_unix = 0) : now_(now_unix) {}
  int64_t NowUnix() const override { return now_.load(std::memory_order_relaxed); }
  void Set(int64_t now_unix) { now_.store(now_unix, std::memory_order_relaxed); }
  void Advance(int64_t seconds) { now_.fetch_add(seconds, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

// Parses an instant given either as unix seconds ("1700000000", optionally negative) or as an
// RFC 3339 date-time ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123+02:00"; fractions are
// truncated). Rejects anything else (dates without a time, missing offset, out-of-range fields such
// as month 13 or February 30) with an InvalidArgument naming the problem.
Result<int64_t> ParseTime(std::string_view text);

// Formats unix seconds as RFC 3339 in UTC, "2024-05-01T12:00:00Z". Years outside 0000-9999 are
// clamped to that range's ends.
std::string FormatRfc3339(int64_t unix_seconds);

// Days since 1970-01-01 of a proleptic Gregorian civil date (no range checks).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace kmra
