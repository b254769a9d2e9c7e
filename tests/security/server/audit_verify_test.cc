// GET /v1/audit/verify against a long audit log, tried the way an administrator's script or a
// hostile admin client would: verifies do not hold the server's I/O thread (the server runs with
// one, so a verify that held it would stall every connection), a client that leaves mid-verify or
// pipelines behind one does not hurt the server, concurrent verifies share one run, and a tampered
// record is still found (409, first_bad_seq). Every test also checks that releases keep working.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/base64.h"
#include "base/hex.h"
#include "crypto/key.h"
#include "crypto/rsa.h"
#include "enclave/factory.h"
#include "enclave/pki/tls_pki.h"
#include "integration/dev_server.h"
#include "integration/harness.h"
#include "security/edge/edge_client.h"
#include "store/store.h"

namespace kmra {
namespace {

using Json = nlohmann::json;
using integration::RunCmd;

// Records appended before the server starts: enough that one verify outlasts several releases on
// this machine's debug build (the order, not the time, is asserted).
constexpr int kRecords = 120'000;
constexpr int kLongTimeoutMs = 600'000;

std::string Kmra() { return integration::EnvOr("KMRA_BIN", "kmra"); }

std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: kmra\r\n\r\n";
}

std::string Post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: kmra\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

class AuditVerifyTest : public integration::DevServerTest {
 protected:
  void SetUp() override {
    InitPki();
    // One I/O thread: a handler that held it would stall every other connection.
    ASSERT_NO_FATAL_FAILURE(AddToDevConfig("listen", "threads = 1\n"));
    {
      auto store = store::OpenSqliteStore(D() + "/state.db");
      ASSERT_TRUE(store.has_value()) << store.error().ToString();
      const std::string pad(160, 'p');
      for (int i = 0; i < kRecords; ++i) {
        auto appended = (*store)->AppendAudit(
            Json{{"action", "filler"}, {"n", i}, {"pad", pad}}.dump(), 1'700'000'000 + i);
        ASSERT_TRUE(appended.has_value()) << appended.error().ToString();
      }
    }
    StartServer();
    port_ = std::stoi(base_.substr(base_.rfind(':') + 1));

    enclave::PlatformConfig pc;
    pc.kind = "sim";
    pc.platform_dir = D() + "/sgx/platform-1";
    auto platform = enclave::OpenPlatform(pc);
    ASSERT_TRUE(platform.has_value()) << platform.error().ToString();
    platform_ = std::move(*platform);
    const auto id = platform_->Identity();
    Json policy{{"mrenclave", {HexEncode(id.mrenclave)}},
                {"mrsigner", {HexEncode(id.mrsigner)}},
                {"clients", {enclave::pki::kDefaultClientId, "kmra_admin"}}};
    auto admin = Admin();
    ASSERT_TRUE(admin->Send("PUT /v1/keys/demo/policy HTTP/1.1\r\nHost: kmra\r\nContent-Length: " +
                            std::to_string(policy.dump().size()) + "\r\n\r\n" + policy.dump()));
    ASSERT_EQ(admin->Read().status, 200);
    auto key = crypto::GenerateRsaKey(2048);
    ASSERT_TRUE(key.has_value());
    pub_ = *crypto::RsaPublicNumbersOf(*key->PublicKey());
  }

  // A keep-alive connection with the admin certificate.
  std::unique_ptr<edge::TlsClient> Admin(int timeout_ms = kLongTimeoutMs) {
    auto c = std::make_unique<edge::TlsClient>();
    EXPECT_TRUE(
        c->Connect(port_, "127.0.0.1", D() + "/tls/admin.pem", D() + "/tls/admin.key", timeout_ms));
    return c;
  }

  // One release (a nonce, then the release with a quote over it) on `c`: the HTTP status.
  int Release(edge::TlsClient& c) {
    if (!c.Send(Post("/v1/nonce", "{}"))) return 0;
    auto issued = c.Read();
    if (issued.status != 200) return issued.status;
    auto nonce = *Base64Decode(Json::parse(issued.body)["nonce"].get<std::string>());
    auto report_data = integration::ReleaseReportData(pub_.exponent, pub_.modulus, nonce);
    Json body{
        {"quote", Base64Encode(*platform_->Quote(report_data))},
        {"nonce", Base64Encode(nonce)},
        {"public_key",
         {{"modulus", Base64Encode(pub_.modulus)}, {"exponent", Base64Encode(pub_.exponent)}}}};
    if (!c.Send(Post("/v1/keys/demo/release", body.dump()))) return 0;
    return c.Read().status;
  }

  double Metric(edge::TlsClient& c, const std::string& series) {
    EXPECT_TRUE(c.Send(Get("/metrics")));
    const std::string body = c.Read().body;
    const auto at = body.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(body.substr(at + series.size() + 2));
  }

  // Polls /metrics on `c` until a verify runs; false if none does (bounded).
  bool WaitUntilAVerifyRuns(edge::TlsClient& c) {
    for (int i = 0; i < 3000; ++i) {
      if (Metric(c, "kmra_audit_verify_running") == 1) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  int port_ = 0;
  std::unique_ptr<enclave::Platform> platform_;
  crypto::RsaPublicNumbers pub_;
};

TEST_F(AuditVerifyTest, ReleasesOnAnotherConnectionAreAnsweredBeforeALongVerifyEnds) {
  auto verifier = Admin();
  ASSERT_TRUE(verifier->Send(Get("/v1/audit/verify")));
  auto other = Admin();
  ASSERT_TRUE(WaitUntilAVerifyRuns(*other));
  const double runs_before = Metric(*other, "kmra_audit_verify_runs_total");
  // Each release is answered; the server's own gauge and counter then say whether the verify was
  // still running (the verdict is counted before it is sent, so this is an order, not a time).
  int during = 0;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Release(*other), 200);
    if (Metric(*other, "kmra_audit_verify_running") != 1 ||
        Metric(*other, "kmra_audit_verify_runs_total") != runs_before) {
      break;
    }
    ++during;
  }
  EXPECT_GE(during, 1) << "no release was answered while the verify ran";
  auto verdict = verifier->Read();
  ASSERT_EQ(verdict.status, 200) << verdict.body;
  const Json v = Json::parse(verdict.body);
  EXPECT_TRUE(v["intact"].get<bool>());
  EXPECT_GE(v["records"].get<int>(), kRecords);
  std::printf("%d releases answered while one verify of %d records ran\n", during,
              v["records"].get<int>());
}

TEST_F(AuditVerifyTest, ClientsThatLeaveMidVerifyOrPipelineBehindItDoNotHurtTheServer) {
  // Five admin clients ask for a verify and hang up while it runs.
  std::vector<std::unique_ptr<edge::TlsClient>> leaving;
  for (int i = 0; i < 5; ++i) {
    leaving.push_back(Admin());
    ASSERT_TRUE(leaving.back()->Send(Get("/v1/audit/verify")));
  }
  auto other = Admin();
  ASSERT_TRUE(WaitUntilAVerifyRuns(*other));
  for (auto& c : leaving) c->Close();
  // A client pipelines /healthz behind a verify: the answers come in request order.
  auto pipelining = Admin();
  ASSERT_TRUE(pipelining->Send(Get("/v1/audit/verify") + Get("/healthz")));
  auto first = pipelining->Read();
  auto second = pipelining->Read();
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find("\"intact\":true"), std::string::npos) << first.body;
  EXPECT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.body.find("intact"), std::string::npos) << second.body;
  // The server is alive and serves: /healthz on a new connection, a release, a verify.
  EXPECT_EQ(edge::Request(port_, "GET", "/healthz").status, 200);
  EXPECT_EQ(Release(*other), 200);
  ASSERT_TRUE(other->Send(Get("/v1/audit/verify")));
  auto again = other->Read();
  EXPECT_EQ(again.status, 200) << again.body;
}

TEST_F(AuditVerifyTest, ConcurrentVerifiesShareRunsOneAtATime) {
  auto watcher = Admin();
  const double runs_before = Metric(*watcher, "kmra_audit_verify_runs_total");
  constexpr int kCallers = 6;
  std::vector<std::unique_ptr<edge::TlsClient>> callers;
  for (int i = 0; i < kCallers; ++i) callers.push_back(Admin());
  for (auto& c : callers) ASSERT_TRUE(c->Send(Get("/v1/audit/verify")));
  std::set<std::int64_t> runs;
  std::set<std::int64_t> records;
  for (auto& c : callers) {
    auto r = c->Read();
    ASSERT_EQ(r.status, 200) << r.body;
    const Json v = Json::parse(r.body);
    EXPECT_TRUE(v["intact"].get<bool>());
    runs.insert(v["run"].get<std::int64_t>());
    records.insert(v["records"].get<std::int64_t>());
  }
  // The first caller starts a run; the ones that asked while it ran share the next one (which
  // covers what was written before they asked). All six cost at most two runs, not six.
  EXPECT_LE(runs.size(), 2u);
  EXPECT_EQ(Metric(*watcher, "kmra_audit_verify_runs_total") - runs_before,
            static_cast<double>(runs.size()));
  EXPECT_EQ(records.size(), 1u) << "nothing was written meanwhile: every run saw the same log";
  EXPECT_EQ(Release(*watcher), 200);
}

TEST_F(AuditVerifyTest, ATamperedRecordIsFoundAnd409NamesIt) {
  auto cli = RunCmd({Kmra(), "audit", "verify", "--config", D() + "/kmra-server.toml"});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("intact"), std::string::npos) << cli.output;
  // Someone with write access to the database rewrites one record in the middle of the log.
  constexpr int kForged = kRecords / 2;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((D() + "/state.db").c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE audit SET json = replace(json, 'filler', 'forged') WHERE seq = " +
        std::to_string(kForged);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string why = err != nullptr ? err : "";
    sqlite3_free(err);
    const int changed = sqlite3_changes(db);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << why;
    ASSERT_EQ(changed, 1);
  }
  auto admin = Admin();
  ASSERT_TRUE(admin->Send(Get("/v1/audit/verify")));
  auto verdict = admin->Read();
  ASSERT_EQ(verdict.status, 409) << verdict.body;
  const Json v = Json::parse(verdict.body);
  EXPECT_FALSE(v["intact"].get<bool>());
  EXPECT_EQ(v["first_bad_seq"].get<int>(), kForged) << verdict.body;
  auto broken = RunCmd({Kmra(), "audit", "verify", "--config", D() + "/kmra-server.toml"});
  EXPECT_EQ(broken.exit_code, 2) << broken.output;
  EXPECT_NE(broken.output.find(std::to_string(kForged)), std::string::npos) << broken.output;
  // Releases go on.
  EXPECT_EQ(Release(*admin), 200);
}

}  // namespace
}  // namespace kmra
