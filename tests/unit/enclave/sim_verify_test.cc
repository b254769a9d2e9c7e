// The bar of the simulated platform: quotes from `kmra quote generate` go through `kmra quote verify`
// (the same DCAP verifier as real quotes) with the outcomes a user expects for each simulated case.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "sim_pki_fixture.h"

namespace kmra::enclave {
namespace {

using testing::TempDir;

struct CliRun {
  int exit_code = -1;
  std::string out;
};

// Runs the kmra binary with `args` (already shell-quoted) and captures standard output.
CliRun Kmra(const std::string& args) {
  const char* bin = std::getenv("KMRA_BIN");
  CliRun r;
  if (bin == nullptr || *bin == '\0') return r;
  std::FILE* f = ::popen((std::string("'") + bin + "' " + args + " 2>&1").c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) r.out.append(buf, n);
  const int status = ::pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class SimVerifyTest : public ::testing::Test {
 protected:
  // Platform 1 up to date, 2 out of date, 3 with a revoked PCK certificate.
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    CliRun r = Kmra("pki init --dir '" + Dir() + "' --platforms 3 --tcb 2=outofdate --revoke-pck 3");
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Dir() { return dir_->path().string(); }

  // Quotes on platform `n` and verifies with `root_args`; returns the JSON report.
  static nlohmann::json QuoteAndVerify(const std::string& pki, int n, const std::string& root_args,
                                       int* exit_code = nullptr) {
    const std::string quote = pki + "/quote-" + std::to_string(n) + ".bin";
    CliRun g = Kmra("quote generate --platform-dir '" + pki + "/sgx/platform-" + std::to_string(n) +
                 "' --report-data 48656c6c6f --isv-prod-id 1 --out '" + quote + "'");
    EXPECT_EQ(g.exit_code, 0) << g.out;
    CliRun v = Kmra("quote verify '" + quote + "' --collateral '" + pki +
                 "/collateral/0FF1CE000000' --format json " + root_args);
    if (exit_code) *exit_code = v.exit_code;
    auto j = nlohmann::json::parse(v.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << v.out;
    return j;
  }

  static bool HasError(const nlohmann::json& report, const std::string& code) {
    if (!report.contains("errors")) return false;
    for (const auto& e : report["errors"]) {
      if ((e.is_object() && e.value("code", "") == code) || (e.is_string() && e == code)) {
        return true;
      }
    }
    return false;
  }

  static TempDir* dir_;
};
TempDir* SimVerifyTest::dir_ = nullptr;

TEST_F(SimVerifyTest, UpToDatePlatformVerifiesAgainstTheSimulatedRoot) {
  int rc = -1;
  auto r = QuoteAndVerify(Dir(), 1, "--root '" + Dir() + "/sgx/root.pem'", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(r["verified"], true) << r.dump(2);
  EXPECT_EQ(r["tcb_status"], "UpToDate");
  EXPECT_EQ(r["qe_identity_status"], "UpToDate");
  EXPECT_EQ(r["fmspc"], "0FF1CE000000");
  EXPECT_EQ(r["pck_ca"], "platform");
  EXPECT_EQ(r["isv_prod_id"], 1);
  EXPECT_EQ(r["report_data"].get<std::string>().substr(0, 12), "48656c6c6f00");
}

TEST_F(SimVerifyTest, OutOfDatePlatformGetsOutOfDateWithAdvisories) {
  auto r = QuoteAndVerify(Dir(), 2, "--root '" + Dir() + "/sgx/root.pem'");
  EXPECT_EQ(r["verified"], true) << r.dump(2);
  EXPECT_EQ(r["tcb_status"], "OutOfDate");
  EXPECT_EQ(r["advisory_ids"], nlohmann::json::array({"INTEL-SA-00828", "INTEL-SA-00615"}));
}

TEST_F(SimVerifyTest, RevokedPckIsReported) {
  int rc = -1;
  auto r = QuoteAndVerify(Dir(), 3, "--root '" + Dir() + "/sgx/root.pem'", &rc);
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(r["verified"], false);
  EXPECT_TRUE(HasError(r, "pck.revoked")) << r["errors"].dump(2);
}

TEST_F(SimVerifyTest, DefaultIntelRootDoesNotTrustSimulatedQuotes) {
  int rc = -1;
  auto r = QuoteAndVerify(Dir(), 1, "", &rc);
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(r["verified"], false);
  EXPECT_TRUE(HasError(r, "pck_chain.untrusted")) << r["errors"].dump(2);
}

TEST(SimVerifyExpired, ExpiredCollateralIsReportedAsExpired) {
  TempDir dir;
  const std::string pki = dir.path().string();
  CliRun init = Kmra("pki init --dir '" + pki + "' --expired-collateral");
  ASSERT_EQ(init.exit_code, 0) << init.out;
  const std::string quote = pki + "/q.bin";
  ASSERT_EQ(Kmra("quote generate --platform-dir '" + pki +
                 "/sgx/platform-1' --report-data 00 --out '" + quote + "'")
                .exit_code,
            0);
  CliRun v = Kmra("quote verify '" + quote + "' --collateral '" + pki +
               "/collateral/0FF1CE000000' --format json --root '" + pki + "/sgx/root.pem'");
  EXPECT_EQ(v.exit_code, 2);
  auto r = nlohmann::json::parse(v.out, nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << v.out;
  EXPECT_EQ(r["verified"], false);
  bool expired = false;
  for (const auto& e : r["errors"]) {
    if (e.dump().find("tcb_info.expired") != std::string::npos) expired = true;
  }
  EXPECT_TRUE(expired) << r["errors"].dump(2);
}

// path -> type (and length for hex strings): the shape of a `kmra quote dump --format json`.
void Shape(const nlohmann::json& j, const std::string& path, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) Shape(v, path + "." + k, out);
  } else if (j.is_string()) {
    out[path] = path.find("pem") == std::string::npos
                    ? "string/" + std::to_string(j.get<std::string>().size())
                    : "pem";
  } else {
    out[path] = j.type_name();
  }
}

TEST_F(SimVerifyTest, DumpShowsTheSameFieldsAtTheSameOffsetsAsARealQuote) {
  const std::string quote = Dir() + "/dump.bin";
  ASSERT_EQ(Kmra("quote generate --platform-dir '" + Dir() +
                 "/sgx/platform-1' --report-data 00 --out '" + quote + "'")
                .exit_code,
            0);
  CliRun sim = Kmra("quote dump --format json '" + quote + "'");
  CliRun real = Kmra("quote dump --format json '" + std::string(KMRA_TEST_DATA) +
                     "/dcap/dcap-qvl_sgx/quote.bin'");
  ASSERT_EQ(sim.exit_code, 0) << sim.out;
  ASSERT_EQ(real.exit_code, 0) << real.out;
  auto s = nlohmann::json::parse(sim.out, nullptr, false);
  auto r = nlohmann::json::parse(real.out, nullptr, false);
  ASSERT_FALSE(s.is_discarded() || r.is_discarded());
  std::map<std::string, std::string> sim_shape, real_shape;
  Shape(s, "", sim_shape);
  Shape(r, "", real_shape);
  EXPECT_EQ(sim_shape, real_shape);
  for (const char* p : {"/header/version", "/header/att_key_type", "/header/tee_type",
                        "/header/qe_vendor_id", "/signature_data/offset",
                        "/signature_data/qe_auth_data", "/signature_data/certification_data/type",
                        "/signature_data/qe_report/isv_prod_id",
                        "/signature_data/qe_report/attributes", "/trailing_bytes"}) {
    const nlohmann::json::json_pointer ptr(p);
    EXPECT_EQ(s.value(ptr, nlohmann::json()), r.value(ptr, nlohmann::json())) << p;
  }
}

TEST(PkiCli, BadArgumentsGiveClearErrors) {
  TempDir dir;
  const std::string pki = dir.path().string() + "/p";
  CliRun r = Kmra("pki init --dir '" + pki + "' --platforms 2 --tcb 3=outofdate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--tcb"), std::string::npos) << r.out;
  r = Kmra("pki init --dir '" + pki + "' --tcb 1=ancient");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("ancient"), std::string::npos) << r.out;
  r = Kmra("quote generate --platform-dir '" + pki + "/sgx/platform-1' --report-data zz --out x");
  EXPECT_NE(r.exit_code, 0);
  r = Kmra("quote generate --platform-dir /nonexistent --report-data 00 --out x");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("/nonexistent"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace kmra::enclave
