#include "base/clock.h"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace kmra {
namespace {

constexpr int64_t kMinUnix = -62167219200;   // 0000-01-01T00:00:00Z
constexpr int64_t kMaxUnix = 253402300799;   // 9999-12-31T23:59:59Z

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` decimal digits at `pos`.
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Howard Hinnant's civil_from_days (public domain algorithm).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2 ? 1 : 0);
}

Result<int64_t> ParseUnixSeconds(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgument("time '" + std::string(text) + "' is out of range for unix seconds");
  }
  return v;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  const std::string quoted = "time '" + std::string(s) + "'";
  auto bad = [&](const std::string& why) {
    return InvalidArgument(quoted + " is not RFC 3339 (YYYY-MM-DDTHH:MM:SSZ or +HH:MM): " + why);
  };
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 5 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s.size() < 8 || s[7] != '-' || !Digits(s, 8, 2, &day)) {
    return bad("expected a date YYYY-MM-DD at the start");
  }
  if (s.size() < 11 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) {
    return bad("expected 'T' and a time after the date");
  }
  if (!Digits(s, 11, 2, &hour) || s.size() < 14 || s[13] != ':' || !Digits(s, 14, 2, &minute) ||
      s.size() < 17 || s[16] != ':' || !Digits(s, 17, 2, &second)) {
    return bad("expected a time HH:MM:SS after 'T'");
  }
  if (month < 1 || month > 12) return bad("month " + std::to_string(month) + " is not 1-12");
  if (day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, month)) {
    return bad("day " + std::to_string(day) + " does not exist in that month");
  }
  if (hour > 23) return bad("hour " + std::to_string(hour) + " is not 0-23");
  if (minute > 59) return bad("minute " + std::to_string(minute) + " is not 0-59");
  // RFC 3339 allows second 60 for leap seconds; unix time folds it into the next second.
  if (second > 60) return bad("second " + std::to_string(second) + " is not 0-60");
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return bad("expected digits after '.'");
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad("expected an offset +HH:MM or -HH:MM");
    }
    offset = (int64_t{oh} * 3600 + int64_t{om} * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad("expected 'Z' or an offset after the time");
  }
  if (pos != s.size()) return bad("unexpected text after the offset");
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return days * 86400 + int64_t{hour} * 3600 + int64_t{minute} * 60 + second - offset;
}

}  // namespace

int64_t SystemClock::NowUnix() const {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  return duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const SystemClock& SystemClock::Get() {
  static const SystemClock clock;
  return clock;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Result<int64_t> ParseTime(std::string_view text) {
  if (text.empty()) return InvalidArgument("time is empty; give unix seconds or RFC 3339");
  bool numeric = true;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!((c >= '0' && c <= '9') || (i == 0 && c == '-' && text.size() > 1))) numeric = false;
  }
  if (numeric) return ParseUnixSeconds(text);
  return ParseRfc3339(text);
}

std::string FormatRfc3339(int64_t t) {
  if (t < kMinUnix) t = kMinUnix;
  if (t > kMaxUnix) t = kMaxUnix;
  int64_t days = t / 86400;
  int64_t secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[32];
  // Cannot truncate: an int64 time has a year of at most 12 digits, plus 16 characters.
  (void)std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                      static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                      static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

}  // namespace kmra
