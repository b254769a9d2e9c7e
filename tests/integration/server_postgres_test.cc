// The key server on PostgreSQL, end to end: two `kmra server` processes (replicas r1 and r2) share
// one real PostgreSQL 15 (password authentication, the password in a 0600 file), one SoftHSM2 token
// and the simulated SGX PKI. Releases through either replica, a nonce used through one is refused
// through the other, the one audit chain verifies and names both replicas, --check-config names
// what is wrong, and a PostgreSQL restart is 503 store.unavailable meanwhile and then served again
// without restarting the servers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/base64.h"
#include "integration/harness.h"
#include "integration/release_client.h"
#include "unit/server/test_util.h"
#include "unit/store/pg_server.h"

namespace kmra {
namespace {

using Json = nlohmann::json;
using integration::ReadFile;
using integration::RunCmd;
using integration::WriteFile;
using server::testing::HttpCall;
using server::testing::Https;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "pg-test-password-7";

std::string Kmra() { return integration::EnvOr("KMRA_BIN", "kmra"); }

// The configuration `kmra server --dev` writes, on PostgreSQL, for one replica.
std::string ReplicaConfig(const std::string& replica, const std::string& url,
                          const std::string& password_file, const std::string& pin_file) {
  return "[server]\nreplica = \"" + replica +
         "\"\n"
         "[listen]\naddress = \"127.0.0.1\"\nport = 0\nport_file = \"" +
         replica +
         ".port\"\n"
         "[tls]\ncertificate = \"tls/server.pem\"\nkey = \"tls/server.key\"\n"
         "client_ca = \"tls/ca.pem\"\nadmin_clients = [\"kmra_admin\"]\n"
         "[hsm]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken_label = \"kmra\"\n"
         "pin_file = \"" +
         pin_file +
         "\"\nsofthsm2_conf = \"hsm/softhsm2.conf\"\n"
         "[store]\nurl = \"" +
         url + "\"\npassword_file = \"" + password_file +
         "\"\n"
         "[attestation]\ntrusted_root = \"sgx/root.pem\"\ntrust_simulated_root = true\n"
         "collateral_dir = \"collateral\"\n"
         "[clients]\nallowed = [\"ctk_loadkey_user_id_01234\"]\n";
}

class ServerPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pg_.Available()) GTEST_SKIP() << pg_.why_not();
    ASSERT_TRUE(pg_.Init({.password = kPassword})) << pg_.why_not();
    ASSERT_EQ(RunCmd({Kmra(), "pki", "init", "--dir", D()}).exit_code, 0);
    ASSERT_TRUE(WriteFile(D() + "/db.password", std::string(kPassword) + "\n", 0600));
    // r1 is `kmra server --dev`: it makes the SoftHSM2 token and the demo key, on PostgreSQL
    // because the config it finds says so.
    ASSERT_TRUE(WriteFile(D() + "/kmra-server.toml",
                          ReplicaConfig("r1", pg_.conninfo(), "db.password", "hsm/pin")));
    ASSERT_TRUE(
        WriteFile(D() + "/r2.toml", ReplicaConfig("r2", pg_.conninfo(), "db.password", "hsm/pin")));
    r1_ = Start({Kmra(), "server", "--dev", "--dir", D()}, "r1");
    ASSERT_TRUE(r1_) << ReadFile(D() + "/r1.log");
    r2_ = Start({Kmra(), "server", "--config", D() + "/r2.toml"}, "r2");
    ASSERT_TRUE(r2_) << ReadFile(D() + "/r2.log");
    client_ = std::make_unique<integration::ReleaseClient>(integration::ReleaseClient::Make(D()));
    ASSERT_TRUE(client_->platform);
    // The demo key's policy names the dev token's enclave; this test's quotes carry its own.
    auto set = Https(Call(1, "PUT", "/v1/keys/demo/policy", client_->Policy().dump(), "admin"));
    ASSERT_EQ(set.status, 200) << set.body;
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "r1 log:\n"
                << ReadFile(D() + "/r1.log") << "\nr2 log:\n"
                << ReadFile(D() + "/r2.log");
    }
    r2_.reset();
    r1_.reset();
  }

  // Starts a replica and waits for its port file; nullptr when it exits first.
  std::unique_ptr<integration::Process> Start(const std::vector<std::string>& argv,
                                              const std::string& name) {
    auto process =
        std::make_unique<integration::Process>(argv, integration::Env{}, D() + "/" + name + ".log");
    for (int i = 0; i < 600 && process->Running(); ++i) {
      const std::string port = ReadFile(D() + "/" + name + ".port");
      if (!port.empty() && port.back() == '\n') {
        ports_[name == "r1" ? 0 : 1] = std::stoi(port);
        return process;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return nullptr;
  }

  HttpCall Call(int replica, const std::string& method, const std::string& path,
                const std::string& body, const std::string& who = "client") const {
    HttpCall call;
    call.method = method;
    call.url = "https://127.0.0.1:" + std::to_string(ports_[replica - 1]) + path;
    call.body = body;
    call.ca_file = D() + "/tls/ca.pem";
    call.cert_file = D() + "/tls/" + who + ".pem";
    call.key_file = D() + "/tls/" + who + ".key";
    return call;
  }
  static std::string Code(const server::testing::HttpResult& res) {
    const Json body = Json::parse(res.body, nullptr, false);
    return body.is_discarded() ? "" : body["error"].value("code", "");
  }
  std::string D() const { return dir_.path(); }

  // --check-config with `config` written to DIR/check.toml: exit code and output.
  integration::RunResult CheckConfig(const std::string& config) {
    EXPECT_TRUE(WriteFile(D() + "/check.toml", config));
    return RunCmd({Kmra(), "server", "--config", D() + "/check.toml", "--check-config"});
  }

  store::testing::PgServer pg_;
  integration::TempDir dir_;
  std::unique_ptr<integration::Process> r1_;
  std::unique_ptr<integration::Process> r2_;
  int ports_[2] = {0, 0};
  std::unique_ptr<integration::ReleaseClient> client_;
};

// An attacker who saw a release through r1 replays it to r2; a server nonce issued by r1 and used
// through r2 is refused when replayed to r1. The legitimate flows work through both replicas, and
// the audit chain they share verifies with `kmra audit verify` and names both.
TEST_F(ServerPostgresTest, ReplicasShareNoncesAndOneAuditChain) {
  auto nonce = integration::KmraNonce(integration::NowUnix());
  const std::string body = client_->KmraBody("demo", nonce).dump();
  auto first = Https(Call(1, "POST", "/sgx/keys/export", body));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(client_->CheckKmraReply(first.body), "");
  auto replayed = Https(Call(2, "POST", "/sgx/keys/export", body));
  EXPECT_EQ(replayed.status, 403) << replayed.body;
  EXPECT_EQ(Code(replayed), "nonce.reused") << replayed.body;
  EXPECT_THAT(replayed.body, Not(HasSubstr("wrappedKey")));
  auto fresh_nonce = integration::KmraNonce(integration::NowUnix());
  auto fresh =
      Https(Call(2, "POST", "/sgx/keys/export", client_->KmraBody("demo", fresh_nonce).dump()));
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(client_->CheckKmraReply(fresh.body), "");

  // /v1: the nonce is issued by r1 and used through r2.
  auto issued = Https(Call(1, "POST", "/v1/nonce", "{}"));
  ASSERT_EQ(issued.status, 200) << issued.body;
  auto server_nonce = *Base64Decode(Json::parse(issued.body)["nonce"].get<std::string>());
  const std::string v1_body = client_->V1Body(server_nonce).dump();
  auto v1 = Https(Call(2, "POST", "/v1/keys/demo/release", v1_body));
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(client_->CheckV1Reply(v1.body), "");
  auto v1_replayed = Https(Call(1, "POST", "/v1/keys/demo/release", v1_body));
  EXPECT_EQ(v1_replayed.status, 403) << v1_replayed.body;
  EXPECT_EQ(Code(v1_replayed), "nonce.invalid") << v1_replayed.body;

  // One chain: both replicas' records, each naming its writer, verified offline and online.
  auto audit = Https(Call(2, "GET", "/v1/audit?limit=1000", "", "admin"));
  ASSERT_EQ(audit.status, 200) << audit.body;
  std::map<std::string, int> allowed_by;
  const Json records = Json::parse(audit.body)["records"];
  for (const auto& r : records) {
    EXPECT_TRUE(r["record"].contains("replica")) << r.dump();
    if (r["record"]["action"] == "release" && r["record"]["verdict"] == "allowed") {
      ++allowed_by[r["record"].value("replica", "")];
    }
  }
  EXPECT_EQ(allowed_by["r1"], 1);
  EXPECT_EQ(allowed_by["r2"], 2);
  auto verify = RunCmd({Kmra(), "audit", "verify", "--config", D() + "/r2.toml"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("audit log intact"));
  auto online = Https(Call(1, "GET", "/v1/audit/verify", "", "admin"));
  EXPECT_EQ(online.status, 200) << online.body;
  EXPECT_THAT(online.body, HasSubstr("\"intact\":true"));

  for (int replica : {1, 2}) {
    auto ready = Https(Call(replica, "GET", "/readyz", ""));
    EXPECT_EQ(ready.status, 200) << ready.body;
    const Json r = Json::parse(ready.body);
    EXPECT_EQ(r["replica"], replica == 1 ? "r1" : "r2") << ready.body;
    EXPECT_EQ(r["checks"]["store"]["backend"], "postgresql") << ready.body;
    EXPECT_TRUE(r["checks"]["store"]["ok"].get<bool>()) << ready.body;
    EXPECT_TRUE(r["checks"]["hsm"]["ok"].get<bool>()) << ready.body;
  }
}

// --check-config exits 0 for a usable configuration, and otherwise non-zero naming what is wrong
// (never the password), without ever listening.
TEST_F(ServerPostgresTest, CheckConfigNamesAWrongPasswordAnUnreachableDatabaseAndAWrongPin) {
  auto ok = CheckConfig(ReplicaConfig("check", pg_.conninfo(), "db.password", "hsm/pin"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("store: ok"));
  EXPECT_THAT(ok.output, HasSubstr("hsm: ok"));
  EXPECT_FALSE(std::filesystem::exists(D() + "/check.port")) << "--check-config listened";

  ASSERT_TRUE(WriteFile(D() + "/wrong.password", "not-the-password-3\n", 0600));
  auto password = CheckConfig(ReplicaConfig("check", pg_.conninfo(), "wrong.password", "hsm/pin"));
  EXPECT_NE(password.exit_code, 0) << password.output;
  EXPECT_THAT(password.output, HasSubstr("store: FAILED"));
  EXPECT_THAT(password.output, HasSubstr("password authentication failed"));
  EXPECT_THAT(password.output, HasSubstr("hsm: ok"));
  EXPECT_THAT(password.output, Not(HasSubstr("not-the-password-3")));

  auto unreachable = CheckConfig(
      ReplicaConfig("check", "host=" + D() + "/no-such-dir port=5432 user=kmra dbname=postgres",
                    "db.password", "hsm/pin"));
  EXPECT_NE(unreachable.exit_code, 0) << unreachable.output;
  EXPECT_THAT(unreachable.output, HasSubstr("store: FAILED"));
  EXPECT_THAT(unreachable.output, HasSubstr("cannot connect"));
  EXPECT_THAT(unreachable.output, HasSubstr("no-such-dir"));

  ASSERT_TRUE(WriteFile(D() + "/wrong.pin", "99999999\n", 0600));
  auto pin = CheckConfig(ReplicaConfig("check", pg_.conninfo(), "db.password", "wrong.pin"));
  EXPECT_NE(pin.exit_code, 0) << pin.output;
  EXPECT_THAT(pin.output, HasSubstr("hsm: FAILED"));
  EXPECT_THAT(pin.output, HasSubstr("PIN"));
  EXPECT_THAT(pin.output, HasSubstr("store: ok"));
  EXPECT_THAT(pin.output, Not(HasSubstr("99999999")));
  EXPECT_FALSE(std::filesystem::exists(D() + "/check.port")) << "--check-config listened";
}

// PostgreSQL stops under running replicas: releases get 503 store.unavailable (the nonce stays
// usable) and /readyz says the store is down; once it is back, the same request is served by the
// same processes.
TEST_F(ServerPostgresTest, PostgresRestartIs503ThenServedWithoutRestartingTheServers) {
  auto before =
      Https(Call(1, "POST", "/sgx/keys/export",
                 client_->KmraBody("demo", integration::KmraNonce(integration::NowUnix())).dump()));
  ASSERT_EQ(before.status, 200) << before.body;

  ASSERT_TRUE(pg_.Stop());
  const std::string body =
      client_->KmraBody("demo", integration::KmraNonce(integration::NowUnix())).dump();
  for (int replica : {1, 2}) {
    auto down = Https(Call(replica, "POST", "/sgx/keys/export", body));
    EXPECT_EQ(down.status, 503) << down.body;
    EXPECT_EQ(Code(down), "store.unavailable") << down.body;
    auto ready = Https(Call(replica, "GET", "/readyz", ""));
    EXPECT_EQ(ready.status, 503) << ready.body;
    EXPECT_FALSE(Json::parse(ready.body)["checks"]["store"]["ok"].get<bool>()) << ready.body;
  }
  ASSERT_TRUE(pg_.Start());
  ASSERT_TRUE(r1_->Running());
  ASSERT_TRUE(r2_->Running());
  // A client retries a 503; the first retry after the restart is served (the pool replaces the
  // connections PostgreSQL closed before it uses them).
  auto again = Https(Call(2, "POST", "/sgx/keys/export", body));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(client_->CheckKmraReply(again.body), "");
  auto replay = Https(Call(1, "POST", "/sgx/keys/export", body));
  EXPECT_EQ(Code(replay), "nonce.reused") << replay.body;
  for (int replica : {1, 2}) {
    auto ready = Https(Call(replica, "GET", "/readyz", ""));
    EXPECT_EQ(ready.status, 200) << ready.body;
  }
  auto verify = RunCmd({Kmra(), "audit", "verify", "--config", D() + "/r2.toml"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

}  // namespace
}  // namespace kmra
