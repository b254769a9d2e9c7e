#include "crypto/random.h"

#include <gtest/gtest.h>

#include <set>

namespace kmra::crypto {
namespace {

TEST(RandomTest, ReturnsRequestedLengthAndDiffers) {
  auto a = RandomBytes(32);
  auto b = RandomBytes(32);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);  // 2^-256 chance of a false failure
  EXPECT_TRUE(RandomBytes(0)->empty());
}

TEST(RandomTest, BytesAreSpread) {
  // 4096 random bytes hit nearly all 256 values; a stuck or zero generator would not.
  auto r = RandomBytes(4096);
  ASSERT_TRUE(r);
  std::set<uint8_t> seen(r->begin(), r->end());
  EXPECT_GT(seen.size(), 240u);
}

TEST(RandomTest, SecretAndSpanFill) {
  auto s = RandomSecret(48);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->size(), 48u);
  EXPECT_EQ(s->ToString(), "<redacted:48>");
  std::array<uint8_t, 16> buf{};
  ASSERT_TRUE(RandomBytes(std::span<uint8_t>(buf)));
  EXPECT_NE(buf, (std::array<uint8_t, 16>{}));
}

}  // namespace
}  // namespace kmra::crypto
