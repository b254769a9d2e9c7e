// [attestation] collateral settings: the PCCS chain, its cache, and the errors an operator sees at
// start for each bad value.
#include <gtest/gtest.h>

#include "server/config.h"

namespace kmra::server {
namespace {

// The error message of a config that must be refused.
std::string Refusal(const std::string& toml) {
  auto c = ParseServerConfig(toml, "/etc/kmra");
  EXPECT_FALSE(c.has_value()) << toml;
  return c ? std::string() : c.error().message();
}

TEST(CollateralConfigTest, ReadsThePccsChainAndResolvesItsFiles) {
  auto c = ParseServerConfig(R"(
[attestation]
collateral_dir = "collateral"
pccs_url = "https://pccs.example:8081"
pccs_api_version = 3
pccs_api_key_file = "pcs.key"
pccs_ca_file = "pccs-ca.pem"
pccs_timeout_ms = 2500
collateral_cache = "cache/collateral.db"
collateral_refresh_ahead = 3600
collateral_max_age = 86400
collateral_recheck = 30
platforms = ["00906ed50000", "SGX/00606A000000/platform", "tdx/00806F050000"]
)",
                             "/etc/kmra");
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->collateral_dir, "/etc/kmra/collateral");
  EXPECT_EQ(c->pccs_urls, std::vector<std::string>{"https://pccs.example:8081"});
  EXPECT_EQ(c->pccs_api_version, 3);
  EXPECT_EQ(c->pccs_api_key_file, "/etc/kmra/pcs.key");
  EXPECT_EQ(c->pccs_ca_file, "/etc/kmra/pccs-ca.pem");
  EXPECT_EQ(c->pccs_timeout_ms, 2500);
  EXPECT_EQ(c->collateral_cache, "/etc/kmra/cache/collateral.db");
  EXPECT_EQ(c->collateral_refresh_ahead, 3600);
  EXPECT_EQ(c->collateral_max_age, 86400);
  EXPECT_EQ(c->collateral_recheck, 30);
  EXPECT_EQ(c->platforms,
            (std::vector<std::string>{"SGX/00906ED50000/processor", "SGX/00606A000000/platform",
                                      "TDX/00806F050000/processor"}));
}

TEST(CollateralConfigTest, PccsUrlMayBeAListTriedInOrder) {
  auto c = ParseServerConfig(
      "[attestation]\npccs_url = [\"https://pccs-a:8081\", "
      "\"https://api.trustedservices.intel.com\"]\n",
      "/");
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->pccs_urls.size(), 2u);
  EXPECT_EQ(c->pccs_urls[1], "https://api.trustedservices.intel.com");
  EXPECT_TRUE(c->collateral_cache.empty());  // the state store holds the cache
}

TEST(CollateralConfigTest, EachBadSettingIsNamed) {
  EXPECT_NE(Refusal("[attestation]\npccs_url = \"pccs.example:8081\"\n").find("pccs_url"),
            std::string::npos);
  EXPECT_NE(Refusal("[attestation]\npccs_url = \"https://pccs/\"\n").find("trailing"),
            std::string::npos);
  EXPECT_NE(Refusal("[attestation]\npccs_url = 8081\n").find("pccs_url"), std::string::npos);
  EXPECT_NE(Refusal("[attestation]\npccs_url = \"https://p\"\npccs_api_version = 5\n")
                .find("pccs_api_version must be 3 or 4"),
            std::string::npos);
  EXPECT_NE(Refusal("[attestation]\npccs_url = \"https://p\"\npccs_timeout_ms = 5\n")
                .find("pccs_timeout_ms"),
            std::string::npos);
  EXPECT_NE(Refusal("[attestation]\ncollateral_dir = \"c\"\ncollateral_cache = \"c.db\"\n")
                .find("collateral_cache is set but pccs_url is not"),
            std::string::npos);
  EXPECT_NE(Refusal("[attestation]\ncollateral_recheck = 0\n").find("collateral_recheck"),
            std::string::npos);
  EXPECT_NE(Refusal("[attestation]\ncollateral_max_age = -1\n").find("collateral_max_age"),
            std::string::npos);
  const std::string fmspc = Refusal("[attestation]\nplatforms = [\"00906ED5000\"]\n");
  EXPECT_NE(fmspc.find("platforms"), std::string::npos) << fmspc;
  EXPECT_NE(fmspc.find("00906ED5000"), std::string::npos) << fmspc;
  EXPECT_NE(Refusal("[attestation]\nplatforms = [\"00906ED50000/cpu\"]\n").find("cpu"),
            std::string::npos);
  EXPECT_NE(Refusal("[attestation]\npccs_ulr = \"https://p\"\n").find("unknown setting 'pccs_ulr'"),
            std::string::npos);
}

TEST(CollateralConfigTest, ApiKeyInClearNeedsAnExplicitOptIn) {
  const std::string msg =
      Refusal("[attestation]\npccs_url = \"https://p\"\npccs_api_key = \"0123abcd\"\n");
  EXPECT_NE(msg.find("pccs_api_key_file"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("0123abcd"), std::string::npos) << "the key itself is never echoed";
  auto ok = ParseServerConfig(
      "[attestation]\npccs_url = \"https://p\"\npccs_api_key = \"k\"\nallow_api_key_in_config = "
      "true\n",
      "/");
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->pccs_api_key_env, "KMRA_PCS_API_KEY");
}

}  // namespace
}  // namespace kmra::server
