// `kmra collateral fetch` writes a bundle that `kmra quote verify --collateral` accepts.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "pccs_fixture.h"

namespace kmra::collateral {
namespace {

int RunKmra(const std::string& args, std::string* out = nullptr) {
  const char* bin = std::getenv("KMRA_BIN");
  if (bin == nullptr || *bin == '\0') return -1;
  std::FILE* f = ::popen((std::string("'") + bin + "' " + args + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[4096];
  std::size_t n = 0;
  std::string text;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  const int status = ::pclose(f);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CollateralFetchCli, WritesABundleTheVerifierAccepts) {
  const std::string kase = std::string(KMRA_TEST_DATA) + "/dcap/dcap-qvl_sgx";
  testing::PccsServer pccs(kase, "processor");
  ASSERT_NE(pccs.port(), 0);
  std::string tmpl = (std::filesystem::temp_directory_path() / "kmra-fetch-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string out = tmpl + "/bundle";
  std::string text;
  ASSERT_EQ(RunKmra("collateral fetch --url " + testing::DeadUrl() + " --url " + pccs.url() +
                        " --fmspc 00a067110000 --out '" + out + "'",
                    &text),
            0)
      << text;
  EXPECT_EQ(RunKmra("quote verify '" + kase + "/quote.bin' --collateral '" + out +
                        "' --root '" + kase + "/trustedRootCaCert.pem' --at 1752919277",
                    &text),
            0)
      << text;
  EXPECT_NE(text.find("ConfigurationAndSWHardeningNeeded"), std::string::npos) << text;

  pccs.Stop();
  EXPECT_EQ(RunKmra("collateral fetch --url " + pccs.url() + " --fmspc 00A067110000 --out '" +
                        tmpl + "/other'",
                    &text),
            1);
  EXPECT_NE(text.find("127.0.0.1"), std::string::npos) << text;
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace kmra::collateral
