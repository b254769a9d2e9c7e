#include "base/hex.h"

#include <gtest/gtest.h>

namespace kmra {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(HexTest, Rfc4648Section10Vectors) {
  EXPECT_EQ(HexEncodeUpper(Bytes("")), "");
  EXPECT_EQ(HexEncodeUpper(Bytes("f")), "66");
  EXPECT_EQ(HexEncodeUpper(Bytes("fo")), "666F");
  EXPECT_EQ(HexEncodeUpper(Bytes("foo")), "666F6F");
  EXPECT_EQ(HexEncodeUpper(Bytes("foob")), "666F6F62");
  EXPECT_EQ(HexEncodeUpper(Bytes("fooba")), "666F6F6261");
  EXPECT_EQ(HexEncodeUpper(Bytes("foobar")), "666F6F626172");
  EXPECT_EQ(*HexDecode("666F6F626172"), Bytes("foobar"));
}

TEST(HexTest, LowerCaseEncodeAndEitherCaseDecode) {
  std::vector<uint8_t> b = {0x00, 0x01, 0xab, 0xff, 0x7f};
  EXPECT_EQ(HexEncode(b), "0001abff7f");
  EXPECT_EQ(*HexDecode("0001abff7f"), b);
  EXPECT_EQ(*HexDecode("0001ABFF7F"), b);
  EXPECT_EQ(*HexDecode("0001aBfF7f"), b);
  EXPECT_TRUE(HexDecode("")->empty());
}

TEST(HexTest, RoundTripsEveryByte) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(*HexDecode(HexEncode(all)), all);
  EXPECT_EQ(*HexDecode(HexEncodeUpper(all)), all);
}

TEST(HexTest, RejectsOddLength) {
  auto r = HexDecode("abc");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("odd number of digits (3)"), std::string::npos);
}

TEST(HexTest, RejectsStrayCharactersNamingThePosition) {
  auto r = HexDecode("00g1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("'g' at position 2"), std::string::npos) << r.error().message();
  r = HexDecode("0x00");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("'x' at position 1"), std::string::npos);
  r = HexDecode("00 1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("byte 0x20 at position 2"), std::string::npos);
  EXPECT_FALSE(HexDecode(std::string_view("0\0", 2)));
  EXPECT_FALSE(HexDecode("0a\n"));
}

}  // namespace
}  // namespace kmra
