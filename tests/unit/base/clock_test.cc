#include "base/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace kmra {
namespace {

std::string ErrorOf(const Result<int64_t>& r) { return r ? "<ok>" : r.error().message(); }

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(1700000000);
  const Clock& c = clock;
  EXPECT_EQ(c.NowUnix(), 1700000000);
  clock.Advance(300);
  EXPECT_EQ(c.NowUnix(), 1700000300);
  clock.Set(5);
  EXPECT_EQ(c.NowUnix(), 5);
}

TEST(ClockTest, SystemClockIsNearTimeOfDay) {
  int64_t now = SystemClock::Get().NowUnix();
  EXPECT_GT(now, 1700000000);  // after Nov 2023
  EXPECT_LT(now, 4102444800);  // before 2100
}

TEST(ClockTest, ParsesUnixSeconds) {
  EXPECT_EQ(*ParseTime("0"), 0);
  EXPECT_EQ(*ParseTime("1700000000"), 1700000000);
  EXPECT_EQ(*ParseTime("-86400"), -86400);
  EXPECT_NE(ErrorOf(ParseTime("99999999999999999999")).find("out of range"), std::string::npos);
}

TEST(ClockTest, ParsesRfc3339) {
  EXPECT_EQ(*ParseTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTime("2023-11-14T22:13:20Z"), 1700000000);
  EXPECT_EQ(*ParseTime("2023-11-14t22:13:20z"), 1700000000);
  EXPECT_EQ(*ParseTime("2023-11-14T22:13:20.999Z"), 1700000000);
  EXPECT_EQ(*ParseTime("2023-11-15T00:13:20+02:00"), 1700000000);
  EXPECT_EQ(*ParseTime("2023-11-14T20:43:20-01:30"), 1700000000);
  EXPECT_EQ(*ParseTime("2024-02-29T00:00:00Z"), 1709164800);
  EXPECT_EQ(*ParseTime("2000-03-01T00:00:00Z"), 951868800);
  EXPECT_EQ(*ParseTime("1969-12-31T23:59:59Z"), -1);
}

TEST(ClockTest, RejectsMalformedTimesWithReason) {
  EXPECT_NE(ErrorOf(ParseTime("")).find("empty"), std::string::npos);
  EXPECT_NE(ErrorOf(ParseTime("2024-05-01")).find("expected 'T'"), std::string::npos);
  EXPECT_NE(ErrorOf(ParseTime("2024-05-01T12:00:00")).find("'Z' or an offset"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ParseTime("2024-13-01T12:00:00Z")).find("month 13"), std::string::npos);
  EXPECT_NE(ErrorOf(ParseTime("2023-02-29T12:00:00Z")).find("day 29"), std::string::npos);
  EXPECT_NE(ErrorOf(ParseTime("2024-05-01T24:00:00Z")).find("hour 24"), std::string::npos);
  EXPECT_NE(ErrorOf(ParseTime("2024-05-01T12:00:00Zjunk")).find("after the offset"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ParseTime("2024-05-01T12:00:00+0200")).find("+HH:MM"), std::string::npos);
  EXPECT_NE(ErrorOf(ParseTime("yesterday")).find("YYYY-MM-DD"), std::string::npos);
  EXPECT_FALSE(ParseTime("-"));
  EXPECT_FALSE(ParseTime("12a"));
  EXPECT_FALSE(ParseTime("2024-05-01T12:00:00.Z"));
}

TEST(ClockTest, FormatsRfc3339AndRoundTrips) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1700000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(1709164800), "2024-02-29T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(INT64_MAX), "9999-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(INT64_MIN), "0000-01-01T00:00:00Z");
  for (int64_t t = -5000000000; t < 5000000000; t += 123456789) {
    EXPECT_EQ(*ParseTime(FormatRfc3339(t)), t) << t;
  }
}

}  // namespace
}  // namespace kmra
