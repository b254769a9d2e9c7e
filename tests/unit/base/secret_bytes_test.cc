#include "base/secret_bytes.h"

#include <gtest/gtest.h>

#include <sstream>

namespace kmra {
namespace {

TEST(SecretBytesTest, FormatsRedacted) {
  SecretBytes pin = SecretBytes::FromString("123456");
  EXPECT_EQ(pin.ToString(), "<redacted:6>");
  EXPECT_EQ(fmt::format("pin={}", pin), "pin=<redacted:6>");
  std::ostringstream os;
  os << pin;
  EXPECT_EQ(os.str(), "<redacted:6>");
}

TEST(SecretBytesTest, ExplicitAccessAndCompare) {
  SecretBytes a = SecretBytes::FromString("secret");
  SecretBytes b = SecretBytes::FromString("secret");
  SecretBytes c = SecretBytes::FromString("secreT");
  EXPECT_EQ(a.RevealAsString(), "secret");
  EXPECT_TRUE(a.Equals(b));
  EXPECT_FALSE(a.Equals(c));
  EXPECT_FALSE(a.Equals(SecretBytes::FromString("secre")));
}

TEST(SecretBytesTest, ClearEmpties) {
  SecretBytes a(32);
  a.RevealMutable()[0] = 7;
  a.clear();
  EXPECT_TRUE(a.empty());
}

TEST(SecretBytesTest, WipeZeroesMemory) {
  std::uint8_t buf[16];
  for (auto& b : buf) b = 0xAB;
  SecureWipe(buf, sizeof(buf));
  for (auto b : buf) EXPECT_EQ(b, 0);
}

}  // namespace
}  // namespace kmra
