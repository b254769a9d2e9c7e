// The token config file: every mistake gets a message naming the key.
#include <gtest/gtest.h>

#include "token/config.h"

namespace kmra::token {
namespace {

TEST(TokenConfig, ParsesAFullConfig) {
  auto c = ParseConfig(
      "token_dir = \"/var/lib/kmra/token\"\nplatform = \"sim\"\nplatform_dir = \"/p\"\n"
      "max_pin_failures = 5\nisv_svn = 3\ndebug = true\n", "t.conf");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->token_dir, "/var/lib/kmra/token");
  EXPECT_EQ(c->max_pin_failures, 5);
  EXPECT_EQ(c->isv_svn, 3);
  EXPECT_TRUE(c->debug);
  EXPECT_EQ(c->attestation_dir, "/dev/attestation");
}

TEST(TokenConfig, MistakesNameTheKey) {
  struct Case { const char* text; const char* expect; };
  const Case cases[] = {
      {"platform = \"sim\"\nplatform_dir=\"/p\"\n", "token_dir"},
      {"token_dir = \"rel\"\nplatform = \"sim\"\nplatform_dir=\"/p\"\n", "absolute"},
      {"token_dir = \"/t\"\nplatform = \"sgx\"\n", "platform"},
      {"token_dir = \"/t\"\nplatform = \"sim\"\n", "platform_dir"},
      {"token_dir = \"/t\"\nplatform = \"gramine\"\nmax_pin_failures = 0\n", "max_pin_failures"},
      {"token_dir = \"/t\"\nplatform = \"gramine\"\ntoken_dri = 1\n", "token_dri"},
      {"token_dir = \"/t\nplatform", "line"},
      {"token_dir = 5\nplatform = \"gramine\"\n", "token_dir"},
  };
  for (const auto& c : cases) {
    auto r = ParseConfig(c.text, "t.conf");
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("t.conf"), std::string::npos);
  }
}

TEST(TokenConfig, MissingFileSaysHowToFixIt) {
  auto r = LoadConfig("/nonexistent/token.conf");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("KMRA_TOKEN_CONF"), std::string::npos);
}

}  // namespace
}  // namespace kmra::token
