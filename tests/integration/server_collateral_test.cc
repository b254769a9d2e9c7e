// End to end: `kmra server` with `[attestation] pccs_url` (the PCCS stand-in over HTTP, python3), a
// real SoftHSM2 token and SQLite store, and quotes from a simulated platform. The server releases a
// key with collateral from the PCCS; with the PCCS stopped it keeps releasing, also after a restart
// (from the cache in the state store); with collateral past its nextUpdate a release is refused
// with collateral.stale (and an audit record) and /readyz says not ready.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/base64.h"
#include "crypto/key.h"
#include "crypto/rsa.h"
#include "enclave/factory.h"
#include "enclave/pki/tls_pki.h"
#include "integration/dev_server.h"
#include "integration/harness.h"
#include "unit/collateral/pccs_fixture.h"
#include "unit/server/test_util.h"

namespace kmra {
namespace {

using Json = nlohmann::json;
using integration::RunCmd;
using server::testing::HttpCall;
using server::testing::Https;

std::string Kmra() { return integration::EnvOr("KMRA_BIN", "kmra"); }

// A development deployment in a temp dir whose config fetches collateral from a PCCS.
class Deployment {
 public:
  explicit Deployment(bool expired_collateral) {
    std::vector<std::string> init = {Kmra(), "pki", "init", "--dir", D()};
    if (expired_collateral) init.push_back("--expired-collateral");
    auto made = RunCmd(init);
    EXPECT_EQ(made.exit_code, 0) << made.output;
    for (const auto& d : std::filesystem::directory_iterator(D() + "/collateral")) {
      fmspc_ = d.path().filename().string();
    }
    // The simulated platforms' PCK certificates are issued by the Platform CA.
    pccs_ = std::make_unique<collateral::testing::PccsServer>(D() + "/collateral/" + fmspc_,
                                                              "platform");
    EXPECT_NE(pccs_->port(), 0) << "the PCCS stand-in (python3) did not start";
    pccs_url_ = pccs_->url();
    EXPECT_TRUE(integration::WriteFile(D() + "/kmra-server.toml", ConfigText()));
  }

  std::string D() const { return dir_.path(); }
  const std::string& fmspc() const { return fmspc_; }
  const std::string& pccs_url() const { return pccs_url_; }
  void StopPccs() { pccs_.reset(); }

  // Starts (or restarts) `kmra server --dev` on the config above; false when it does not listen.
  bool Start() {
    server_.reset();
    std::filesystem::remove(D() + "/server.port");
    server_ = std::make_unique<integration::Process>(
        std::vector<std::string>{Kmra(), "server", "--dev", "--dir", D(), "--listen",
                                 "127.0.0.1:0"},
        integration::Env{}, D() + "/server.log");
    for (int i = 0; i < 600 && !std::filesystem::exists(D() + "/server.port"); ++i) {
      if (!server_->Running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    port_ = std::stoi(integration::ReadFile(D() + "/server.port"));
    return true;
  }
  std::string Log() const { return integration::ReadFile(D() + "/server.log"); }

  server::testing::HttpResult Call(const std::string& method, const std::string& path,
                                   const std::string& body = "",
                                   const std::string& who = "client") const {
    HttpCall call;
    call.method = method;
    call.url = "https://127.0.0.1:" + std::to_string(port_) + path;
    call.body = body;
    call.ca_file = D() + "/tls/ca.pem";
    if (!who.empty()) {
      call.cert_file = D() + "/tls/" + who + ".pem";
      call.key_file = D() + "/tls/" + who + ".key";
    }
    return Https(call);
  }

  // POST /v1/keys/demo/release with a server nonce and a fresh quote of platform 1.
  server::testing::HttpResult Release() const {
    auto nonce_res = Call("POST", "/v1/nonce", "{}");
    EXPECT_EQ(nonce_res.status, 200) << nonce_res.body;
    auto nonce = *Base64Decode(Json::parse(nonce_res.body)["nonce"].get<std::string>());
    static const crypto::PrivateKey key = *crypto::GenerateRsaKey(2048);
    auto pub = *crypto::RsaPublicNumbersOf(*key.PublicKey());
    const auto report_data = integration::ReleaseReportData(pub.exponent, pub.modulus, nonce);
    enclave::PlatformConfig pc;
    pc.kind = "sim";
    pc.platform_dir = D() + "/sgx/platform-1";
    // Quote as the dev token does: the demo key's policy (kmra server --dev) names the MRENCLAVE
    // of the token module, the SHA-256 of its file.
    pc.mrenclave_of = std::string(KMRA_BINARY_DIR) + "/src/token/libkmra-pkcs11.so";
    auto platform = enclave::OpenPlatform(pc);
    EXPECT_TRUE(platform.has_value()) << platform.error().ToString();
    auto quote = (*platform)->Quote(report_data);
    EXPECT_TRUE(quote.has_value()) << quote.error().ToString();
    Json body{{"quote", Base64Encode(*quote)},
              {"nonce", Base64Encode(nonce)},
              {"public_key",
               {{"modulus", Base64Encode(pub.modulus)}, {"exponent", Base64Encode(pub.exponent)}}}};
    return Call("POST", "/v1/keys/demo/release", body.dump());
  }

  // The collateral check of /readyz, and its HTTP status.
  std::pair<long, Json> Ready() const {
    auto res = Call("GET", "/readyz", "", "");
    Json body = Json::parse(res.body, nullptr, false);
    EXPECT_FALSE(body.is_discarded()) << res.body;
    return {res.status, body.is_discarded() ? Json() : body["checks"]["collateral"]};
  }

 private:
  std::string ConfigText() const {
    return "[listen]\naddress = \"127.0.0.1\"\nport = 0\nport_file = \"server.port\"\n"
           "[tls]\ncertificate = \"tls/server.pem\"\nkey = \"tls/server.key\"\n"
           "client_ca = \"tls/ca.pem\"\nadmin_clients = [\"kmra_admin\"]\n"
           "[hsm]\ntoken_label = \"kmra\"\npin_file = \"hsm/pin\"\n"
           "softhsm2_conf = \"hsm/softhsm2.conf\"\n"
           "[store]\npath = \"state.db\"\n"
           "[attestation]\ntrusted_root = \"sgx/root.pem\"\ntrust_simulated_root = true\n"
           "pccs_url = \"" +
           pccs_url_ +
           "\"\npccs_timeout_ms = 3000\n"
           "platforms = [\"" +
           fmspc_ +
           "/platform\"]\n"
           "[clients]\nallowed = [\"" +
           std::string(enclave::pki::kDefaultClientId) + "\"]\n";
  }

  integration::TempDir dir_;
  std::string fmspc_;
  std::unique_ptr<collateral::testing::PccsServer> pccs_;
  std::string pccs_url_;
  std::unique_ptr<integration::Process> server_;
  int port_ = 0;
};

TEST(ServerCollateralTest, ReleasesWithPccsCollateralAndKeepsReleasingWhenThePccsIsDown) {
  Deployment dep(/*expired_collateral=*/false);
  ASSERT_TRUE(dep.Start()) << dep.Log();

  auto [status, ready] = dep.Ready();
  EXPECT_EQ(status, 200) << ready.dump();
  ASSERT_EQ(ready["platforms"].size(), 1u) << ready.dump();
  EXPECT_TRUE(ready["platforms"][0]["fresh"].get<bool>()) << ready.dump();
  EXPECT_EQ(ready["platforms"][0]["origin"], "pcs:" + dep.pccs_url()) << ready.dump();
  EXPECT_EQ(ready["platforms"][0]["fmspc"], dep.fmspc());

  auto released = dep.Release();
  ASSERT_EQ(released.status, 200) << released.body;
  EXPECT_EQ(Json::parse(released.body)["attestation"]["tcb_status"], "UpToDate");

  // The PCCS-compatible paths serve what the PCCS delivered, byte for byte.
  auto tcb = dep.Call("GET", "/sgx/certification/v4/tcb?fmspc=" + dep.fmspc());
  EXPECT_EQ(tcb.status, 200) << tcb.body;
  EXPECT_EQ(tcb.body,
            integration::ReadFile(dep.D() + "/collateral/" + dep.fmspc() + "/tcbInfo.json"));
  auto crl = dep.Call("GET", "/sgx/certification/v4/pckcrl?ca=platform&encoding=der");
  EXPECT_EQ(crl.status, 200) << crl.body;
  EXPECT_EQ(crl.body,
            integration::ReadFile(dep.D() + "/collateral/" + dep.fmspc() + "/pckCrl.der"));
  EXPECT_EQ(dep.Call("GET", "/sgx/certification/v4/pckcrl?ca=processor").status, 404);
  EXPECT_EQ(dep.Call("GET", "/sgx/certification/v4/qe/identity").status, 200);
  EXPECT_EQ(dep.Call("GET", "/sgx/certification/v4/rootcacrl").status, 200);

  // The PCCS goes down: releases go on.
  dep.StopPccs();
  released = dep.Release();
  EXPECT_EQ(released.status, 200) << released.body;

  // A restarted server with the PCCS still down releases from the cache in its state store.
  ASSERT_TRUE(dep.Start()) << dep.Log();
  released = dep.Release();
  EXPECT_EQ(released.status, 200) << released.body << dep.Log();
  auto [status2, ready2] = dep.Ready();
  EXPECT_EQ(status2, 200) << ready2.dump();
  EXPECT_EQ(ready2["platforms"][0]["origin"], "cache") << ready2.dump();
  EXPECT_TRUE(ready2["platforms"][0]["fresh"].get<bool>()) << ready2.dump();
}

TEST(ServerCollateralTest, StaleCollateralIsRefusedAuditedAndNotReady) {
  // The PCCS serves collateral whose nextUpdate passed a day ago.
  Deployment dep(/*expired_collateral=*/true);
  ASSERT_TRUE(dep.Start()) << dep.Log();
  auto [status, ready] = dep.Ready();
  EXPECT_EQ(status, 503) << ready.dump();
  EXPECT_FALSE(ready["ok"].get<bool>());
  ASSERT_EQ(ready["platforms"].size(), 1u) << ready.dump();
  EXPECT_FALSE(ready["platforms"][0]["fresh"].get<bool>());
  EXPECT_NE(ready["error"].get<std::string>().find("nextUpdate"), std::string::npos)
      << ready.dump();

  auto refused = dep.Release();
  EXPECT_EQ(refused.status, 503) << refused.body;
  Json body = Json::parse(refused.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << refused.body;
  EXPECT_EQ(body["error"]["code"], "collateral.stale") << refused.body;
  const std::string message = body["error"]["message"];
  EXPECT_NE(message.find(dep.fmspc()), std::string::npos) << message;
  EXPECT_NE(message.find("nextUpdate"), std::string::npos) << message;
  EXPECT_FALSE(body.contains("wrapped_key"));
  EXPECT_EQ(dep.Call("GET", "/sgx/certification/v4/qe/identity").status, 503);

  auto audit = dep.Call("GET", "/v1/audit?limit=100", "", "admin");
  ASSERT_EQ(audit.status, 200) << audit.body;
  bool found = false;
  const Json records = Json::parse(audit.body)["records"];
  for (const auto& r : records) {
    found |=
        r["record"]["failed_check"] == "collateral.stale" && r["record"]["verdict"] == "error";
  }
  EXPECT_TRUE(found) << audit.body;

  // Restarted with the PCCS down: the refusal now also says why the refresh failed.
  dep.StopPccs();
  ASSERT_TRUE(dep.Start()) << dep.Log();
  refused = dep.Release();
  EXPECT_EQ(refused.status, 503) << refused.body;
  body = Json::parse(refused.body, nullptr, false);
  EXPECT_EQ(body["error"]["code"], "collateral.stale") << refused.body;
  EXPECT_NE(body["error"]["message"].get<std::string>().find("refreshing it failed"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(dep.Ready().first, 503);
}

}  // namespace
}  // namespace kmra
