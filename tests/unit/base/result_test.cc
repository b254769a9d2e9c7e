#include "base/result.h"

#include <gtest/gtest.h>

namespace kmra {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("value " + std::to_string(v) + " is not positive");
  return v;
}

Result<int> Doubled(int v) {
  KMRA_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status CheckBoth(int a, int b) {
  KMRA_TRY(ParsePositive(a));
  KMRA_TRY(ParsePositive(b));
  return OkStatus();
}

TEST(ResultTest, AssignOrReturnPassesValueAndError) {
  EXPECT_EQ(*Doubled(4), 8);
  auto r = Doubled(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "value -1 is not positive");
}

TEST(ResultTest, TryStopsAtFirstError) {
  EXPECT_TRUE(CheckBoth(1, 2));
  auto s = CheckBoth(1, 0);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().ToString(), "invalid_argument: value 0 is not positive");
}

TEST(ResultTest, WithContextKeepsCode) {
  Error e(Code::kNotFound, "no such key");
  Error c = e.WithContext("release key 'web'");
  EXPECT_EQ(c.code(), Code::kNotFound);
  EXPECT_EQ(c.message(), "release key 'web': no such key");
}

}  // namespace
}  // namespace kmra
