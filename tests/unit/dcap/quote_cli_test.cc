// `kmra quote dump|verify` as a user runs them: exit codes and JSON keys.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "resign_tcb_info.h"
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

// `kmra pki init --dir TMP ARGS` and a quote of its platform 1 (report data 00ff) in TMP/q.bin;
// TMP is removed at the end. `dir` stays empty when a step failed.
struct SimPki {
  std::string dir;
  std::string collateral;  // DIR/collateral/<fmspc>/, the one pki init wrote

  explicit SimPki(const std::string& init_args = "") {
    char tmpl[] = "/tmp/kmra-dcap-sim-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    const std::string d = tmpl;
    if (RunKmra("pki init --dir " + d + " " + init_args).exit_code == 0 &&
        RunKmra("quote generate --platform-dir " + d + "/sgx/platform-1 --report-data 00ff --out " +
                d + "/q.bin")
                .exit_code == 0) {
      for (const auto& e : std::filesystem::directory_iterator(d + "/collateral")) {
        collateral = e.path().string();
      }
    }
    if (collateral.empty()) {
      std::filesystem::remove_all(d);
      return;
    }
    dir = d;
  }
  ~SimPki() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  std::string Verify(const std::string& root) const {
    return "quote verify " + dir + "/q.bin --collateral " + collateral + " --root " + root;
  }
};

TEST(QuoteCliTest, SimulatedRootGoesThroughTheSameChecks) {
  // `kmra pki init` makes an "OpenKMRA Simulated SGX Root CA" PKI and collateral; its quotes verify
  // only against that root.
  SimPki sim;
  ASSERT_FALSE(sim.dir.empty());
  Output ok = RunKmra(sim.Verify(sim.dir + "/sgx/root.pem") + " --format json");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  auto j = nlohmann::json::parse(ok.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << ok.out;
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["tcb_status"], "UpToDate");
  EXPECT_EQ(j["report_data"].get<std::string>().substr(0, 4), "00ff");
  Output intel = RunKmra(sim.Verify(CaseDir("IntelSGXRootCA.pem")) + " --format json");
  EXPECT_EQ(intel.exit_code, 2);
  EXPECT_NE(intel.out.find("pck_chain.untrusted"), std::string::npos);
}

TEST(QuoteCliTest, NoTcbLevelMetExitsTwoAndNamesTheCode) {
  Output o = RunKmra(Verify("oasis_tdx_out_of_date", "1687091776", "--format json"));
  EXPECT_EQ(o.exit_code, 2);
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.out;
  EXPECT_EQ(j["verified"], false);
  EXPECT_EQ(j["tcb_status"], "TCBLevelNotSupported");
  bool named = false;
  for (const auto& e : j["errors"]) named |= e["code"] == "tcb.level_not_supported";
  EXPECT_TRUE(named) << o.out;
  EXPECT_EQ(RunKmra(Verify("dcap-qvl_tdx", "1752919234")).exit_code, 0);
}

// A simulated platform at the OutOfDate level, against TCB info without that level (and the lower
// ones): no level is met, and that alone makes the quote not verified.
TEST(QuoteCliTest, PlatformBelowEveryTcbLevelIsNotVerified) {
  SimPki sim("--tcb 1=outofdate");
  ASSERT_FALSE(sim.dir.empty());
  const std::string& collateral = sim.collateral;
  const std::string verify = sim.Verify(sim.dir + "/sgx/root.pem") + " --format json";
  const std::string key = sim.dir + "/sgx/private/tcb_signing_key.pem";
  // Re-signed with every level: the platform meets OutOfDate, verified (accepted by default).
  ASSERT_EQ(testing::KeepTcbLevels(collateral, key,
                                   {"UpToDate", "SWHardeningNeeded", "OutOfDate", "Revoked"}),
            "");
  Output met = RunKmra(verify);
  EXPECT_EQ(met.exit_code, 0) << met.out;
  ASSERT_EQ(testing::KeepTcbLevels(collateral, key, {"UpToDate", "SWHardeningNeeded"}), "");
  Output o = RunKmra(verify);
  EXPECT_EQ(o.exit_code, 2) << o.out;
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.out;
  EXPECT_EQ(j["verified"], false);
  EXPECT_EQ(j["tcb_status"], "TCBLevelNotSupported");
  ASSERT_EQ(j["errors"].size(), 1u) << o.out;
  EXPECT_EQ(j["errors"][0]["code"], "tcb.level_not_supported");
}

TEST(QuoteCliTest, UnevaluatedStatusIsNullAndIssueDateHonoursClockSkew) {
  char tmpl[] = "/tmp/kmra-dcap-junk-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "not a quote, not a quote, not a quote", 38), 38);
  close(fd);
  Output junk = RunKmra("quote verify " + std::string(tmpl) + " --collateral " +
                        CaseDir("dcap-qvl_sgx") + " --at 1752919277 --format json");
  std::remove(tmpl);
  EXPECT_EQ(junk.exit_code, 2);
  auto j = nlohmann::json::parse(junk.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << junk.out;
  EXPECT_TRUE(j["tcb_status"].is_null()) << junk.out;
  EXPECT_TRUE(j["qe_identity_status"].is_null());
  // The TCB info was issued at 1750330571: a second earlier it is not yet valid, unless a clock
  // skew of at least that second is allowed.
  Output early = RunKmra(Verify("dcap-qvl_sgx", "1750330570", "--format json"));
  EXPECT_EQ(early.exit_code, 2);
  EXPECT_NE(early.out.find("tcb_info.not_yet_valid"), std::string::npos) << early.out;
  EXPECT_EQ(RunKmra(Verify("dcap-qvl_sgx", "1750330570", "--clock-skew 5")).exit_code, 0);
  EXPECT_EQ(RunKmra(Verify("dcap-qvl_sgx", "1750330570", "--clock-skew -5")).exit_code, 1);
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  std::string out;
  char hex[4];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(hex, sizeof(hex), i == 0 ? "%02X" : ":%02X", md[i]);
    out += hex;
  }
  return out;
}

// A root re-issued with the same key, name and serial but another validity (as Intel's 2018-2033
// root and its 2018-2049 re-issue): refused, and the message shows what differs.
TEST(QuoteCliTest, ReissuedRootWithTheSameKeyIsRefusedAndTheDifferenceShown) {
  SimPki sim;
  ASSERT_FALSE(sim.dir.empty());
  const std::string& dir = sim.dir;
  FILE* f = std::fopen((dir + "/sgx/root.pem").c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* root = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen((dir + "/sgx/private/root_key.pem").c_str(), "r");
  ASSERT_NE(f, nullptr);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_TRUE(root && key);
  X509* reissued = X509_dup(root);
  ASSERT_NE(X509_gmtime_adj(X509_getm_notAfter(reissued), 3650L * 86400 + 7), nullptr);
  ASSERT_GT(X509_sign(reissued, key, EVP_sha256()), 0);
  f = std::fopen((dir + "/reissued.pem").c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509(f, reissued);
  std::fclose(f);
  const std::string in_quote = Fingerprint(root), trusted = Fingerprint(reissued);
  ASSERT_NE(in_quote, trusted);
  X509_free(root);
  X509_free(reissued);
  EVP_PKEY_free(key);
  Output o = RunKmra(sim.Verify(dir + "/reissued.pem"));
  EXPECT_EQ(o.exit_code, 2);
  const size_t line = o.out.find("pck_chain.trusted_root:");
  ASSERT_NE(line, std::string::npos) << o.out;
  const std::string detail = o.out.substr(line, o.out.find('\n', line) - line);
  EXPECT_NE(detail.find(in_quote), std::string::npos) << detail;
  EXPECT_NE(detail.find(trusted), std::string::npos) << detail;
  EXPECT_NE(detail.find("same public key"), std::string::npos) << detail;
  EXPECT_EQ(RunKmra(sim.Verify(dir + "/sgx/root.pem")).exit_code, 0);
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
