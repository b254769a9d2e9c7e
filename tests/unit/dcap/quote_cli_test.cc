// `kmra quote dump|verify` as a user runs them: exit codes and JSON keys.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_data.h"

namespace kmra::dcap {
namespace {

using testing::CaseDir;

struct Output {
  int exit_code = -1;
  std::string out;
};

Output RunKmra(const std::string& args) {
  const char* bin = std::getenv("KMRA_BIN");
  EXPECT_NE(bin, nullptr);
  std::string cmd = std::string(bin) + " " + args + " 2>/dev/null";
  Output o;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) o.out.append(buf, n);
  int status = pclose(p);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

std::string Verify(const std::string& name, const std::string& at, const std::string& extra = "") {
  return "quote verify " + CaseDir(name) + "/quote.bin --collateral " + CaseDir(name) + " --at " +
         at + " " + extra;
}

TEST(QuoteCliTest, VerifiedAndAcceptedExitsZeroWithTheJsonKeys) {
  Output o = RunKmra(Verify("dcap-qvl_sgx", "1752919277", "--format json"));
  EXPECT_EQ(o.exit_code, 0);
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.out;
  for (const char* key : {"verified", "tcb_status", "advisory_ids", "qe_identity_status", "tee",
                          "fmspc", "mrenclave", "mrsigner", "isv_prod_id", "isv_svn", "debug",
                          "report_data", "checks", "errors"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["tcb_status"], "ConfigurationAndSWHardeningNeeded");
  EXPECT_EQ(j["advisory_ids"], nlohmann::json({"INTEL-SA-00289", "INTEL-SA-00615"}));
  EXPECT_EQ(j["tee"], "SGX");
  EXPECT_TRUE(j["checks"][0].contains("name"));
  EXPECT_TRUE(j["checks"][0].contains("ok"));
  EXPECT_TRUE(j["checks"][0].contains("detail"));
}

TEST(QuoteCliTest, StatusNotAcceptedExitsThree) {
  EXPECT_EQ(RunKmra(Verify("dcap-qvl_sgx", "2025-07-19T10:01:17Z", "--accept UpToDate")).exit_code, 3);
  EXPECT_EQ(RunKmra(Verify("dcap-qvl_sgx", "1752919277",
                       "--accept UpToDate,ConfigurationAndSWHardeningNeeded"))
                .exit_code,
            0);
}

TEST(QuoteCliTest, NotVerifiedExitsTwo) {
  Output o = RunKmra(Verify("mobilecoin_sgx", "1689194905", "--format json"));
  EXPECT_EQ(o.exit_code, 2);
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["errors"][0]["code"], "crl.expired");
  // The Intel sample against the production root.
  o = RunKmra(Verify("intel_qvl_sample_sgx", "1700000000",
                 "--format json --pck-chain " + CaseDir("intel_qvl_sample_sgx") +
                     "/pckChain.pem --root " + CaseDir("IntelSGXRootCA.pem")));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.out.find("pck_chain.untrusted"), std::string::npos);
  // ... and against its own root (trustedRootCaCert.pem of the directory).
  o = RunKmra(Verify("intel_qvl_sample_sgx", "1700000000",
                 "--pck-chain " + CaseDir("intel_qvl_sample_sgx") + "/pckChain.pem"));
  EXPECT_EQ(o.exit_code, 0) << o.out;
}

TEST(QuoteCliTest, UsageAndIoErrorsExitOne) {
  EXPECT_EQ(RunKmra(Verify("dcap-qvl_sgx", "yesterday")).exit_code, 1);
  EXPECT_EQ(RunKmra(Verify("dcap-qvl_sgx", "1752919277", "--accept Fine")).exit_code, 1);
  EXPECT_EQ(RunKmra("quote verify /nonexistent.bin --collateral " + CaseDir("dcap-qvl_sgx")).exit_code,
            1);
  EXPECT_EQ(RunKmra("quote verify " + CaseDir("dcap-qvl_sgx") + "/quote.bin --collateral /nonexistent")
                .exit_code,
            1);
}

TEST(QuoteCliTest, SimulatedRootGoesThroughTheSameChecks) {
  // `kmra pki init` makes an "OpenKMRA Simulated SGX Root CA" PKI and collateral; its quotes verify
  // only against that root.
  char tmpl[] = "/tmp/kmra-dcap-sim-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(RunKmra("pki init --dir " + dir).exit_code, 0);
  ASSERT_EQ(RunKmra("quote generate --platform-dir " + dir + "/sgx/platform-1 --report-data 00ff --out " +
                    dir + "/q.bin")
                .exit_code,
            0);
  std::string collateral;  // DIR/collateral/<fmspc>/, the one pki init wrote
  for (const auto& e : std::filesystem::directory_iterator(dir + "/collateral")) {
    collateral = e.path().string();
  }
  ASSERT_FALSE(collateral.empty());
  Output ok = RunKmra("quote verify " + dir + "/q.bin --collateral " + collateral + " --root " + dir +
                      "/sgx/root.pem --format json");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  auto j = nlohmann::json::parse(ok.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << ok.out;
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["tcb_status"], "UpToDate");
  EXPECT_EQ(j["report_data"].get<std::string>().substr(0, 4), "00ff");
  Output intel = RunKmra("quote verify " + dir + "/q.bin --collateral " + collateral + " --root " +
                         CaseDir("IntelSGXRootCA.pem") + " --format json");
  EXPECT_EQ(intel.exit_code, 2);
  EXPECT_NE(intel.out.find("pck_chain.untrusted"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(QuoteCliTest, DumpPrintsFieldsAndRejectsJunk) {
  Output o = RunKmra("quote dump " + CaseDir("dcap-qvl_tdx") + "/quote.bin --format json");
  EXPECT_EQ(o.exit_code, 0);
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["header"]["tee_type"], "TDX");
  EXPECT_EQ(j["trailing_bytes"], 70);
  o = RunKmra("quote dump " + CaseDir("dcap-qvl_sgx") + "/case.json");
  EXPECT_EQ(o.exit_code, 2);
}

}  // namespace
}  // namespace kmra::dcap
