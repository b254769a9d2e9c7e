// The fixture of server_release_test: one `kmra server --dev` per test process (real SoftHSM2
// token, SQLite store, simulated SGX PKI), a client with its simulated enclave, and the request
// builders and unwrapping the scenarios share.
#pragma once

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/base64.h"
#include "base/hex.h"
#include "crypto/aes_kw.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "enclave/factory.h"
#include "integration/dev_server.h"
#include "integration/harness.h"
#include "integration/release_client.h"
#include "store/store.h"
#include "unit/dcap/resign_tcb_info.h"
#include "unit/server/test_util.h"

namespace kmra {
namespace {

using Json = nlohmann::json;
using integration::RunCmd;
using server::testing::HttpCall;
using server::testing::Https;

std::string Kmra() { return integration::EnvOr("KMRA_BIN", "kmra"); }

using integration::KmraNonce;
int64_t Now() { return integration::NowUnix(); }

// The client side of a release: an RSA-3072 key (the token's cust key) and a simulated enclave.
struct Client {
  crypto::PrivateKey key;
  crypto::RsaPublicNumbers pub;
  std::unique_ptr<enclave::Platform> platform;

  std::vector<uint8_t> QuoteFor(const std::vector<uint8_t>& nonce,
                                const std::vector<uint8_t>* modulus_override = nullptr) {
    const auto& modulus = modulus_override ? *modulus_override : pub.modulus;
    auto quote = platform->Quote(integration::ReleaseReportData(pub.exponent, modulus, nonce));
    EXPECT_TRUE(quote.has_value()) << quote.error().ToString();
    return *quote;
  }
};

class ServerReleaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new integration::TempDir();
    auto init = RunCmd({Kmra(), "pki", "init", "--dir", D(), "--platforms", "4", "--tcb",
                        "2=outofdate", "--tcb", "4=revoked", "--revoke-pck", "3"});
    ASSERT_EQ(init.exit_code, 0) << init.output;
    // Without its Revoked level, the TCB info has no level platform 4 meets (TCBLevelNotSupported).
    for (const auto& d : std::filesystem::directory_iterator(D() + "/collateral")) {
      ASSERT_EQ(
          dcap::testing::KeepTcbLevels(d.path().string(), D() + "/sgx/private/tcb_signing_key.pem",
                                       {"UpToDate", "SWHardeningNeeded", "OutOfDate"}),
          "");
    }
    server_ = new integration::Process(
        {Kmra(), "server", "--dev", "--dir", D(), "--listen", "127.0.0.1:0"}, {},
        D() + "/server.log");
    for (int i = 0; i < 600 && !std::filesystem::exists(D() + "/server.port"); ++i) {
      ASSERT_TRUE(server_->Running()) << integration::ReadFile(D() + "/server.log");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    port_ = std::stoi(integration::ReadFile(D() + "/server.port"));
    // --dev gives the demo key a policy naming the dev token's enclave (MRENCLAVE of the token
    // module, MRSIGNER of the PKI's signer); this test's quotes carry the test program's MRENCLAVE,
    // so the tests release under a policy that names it.
    auto dev = Https(Call("GET", "/v1/keys/demo/policy", "", "admin"));
    ASSERT_EQ(dev.status, 200) << dev.body;
    Json dev_policy = Json::parse(dev.body)["policy"];
    EXPECT_EQ(dev_policy["mrsigner"], TestPolicy()["mrsigner"]) << dev.body;
    EXPECT_EQ(dev_policy["mrenclave"].size(), 1u) << dev.body;
    EXPECT_NE(dev_policy["mrenclave"], TestPolicy()["mrenclave"]) << dev.body;
    auto set = Https(Call("PUT", "/v1/keys/demo/policy", TestPolicy().dump(), "admin"));
    ASSERT_EQ(set.status, 200) << set.body;
  }

  // A policy naming this test's simulated enclave (MRENCLAVE of the test program, MRSIGNER of the
  // PKI's enclave signer).
  static Json TestPolicy() {
    auto id = MakeClient().platform->Identity();
    return Json{{"mrenclave", {HexEncode(id.mrenclave)}}, {"mrsigner", {HexEncode(id.mrsigner)}}};
  }
  // A failed test shows the server's log: what it refused or dropped, and why.
  void TearDown() override {
    if (!HasFailure()) return;
    std::cerr << "server log:\n" << integration::ReadFile(D() + "/server.log");
    auto metrics = Https(Call("GET", "/metrics", "", "client"));
    std::istringstream lines(metrics.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("kmra_connection", 0) == 0 || line.rfind("kmra_accept", 0) == 0) {
        std::cerr << line << "\n";
      }
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  static std::string D() { return dir_->path(); }
  static std::string Url(const std::string& path) {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }

  // One client per (platform, debug), made once: RSA key generation dominates the test time.
  static Client& MakeClient(int platform = 1, bool debug = false) {
    static std::map<std::pair<int, bool>, std::unique_ptr<Client>> clients;
    auto& slot = clients[{platform, debug}];
    if (!slot) slot = std::make_unique<Client>(NewClient(platform, debug));
    return *slot;
  }
  static Client NewClient(int platform, bool debug) {
    // KMRA's token uses RSA-3072; 2048 keeps the test fast and is accepted the same way.
    Client c{*crypto::GenerateRsaKey(2048), {}, nullptr};
    c.pub = *crypto::RsaPublicNumbersOf(*c.key.PublicKey());
    enclave::PlatformConfig pc;
    pc.kind = "sim";
    pc.platform_dir = D() + "/sgx/platform-" + std::to_string(platform);
    pc.debug = debug;
    auto p = enclave::OpenPlatform(pc);
    EXPECT_TRUE(p.has_value()) << p.error().ToString();
    c.platform = std::move(*p);
    return c;
  }

  static HttpCall Call(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& who = "client") {
    HttpCall call;
    call.method = method;
    call.url = Url(path);
    call.body = body;
    call.ca_file = D() + "/tls/ca.pem";
    if (!who.empty()) {
      call.cert_file = D() + "/tls/" + who + ".pem";
      call.key_file = D() + "/tls/" + who + ".key";
    }
    return call;
  }

  static Json KmraBody(const std::string& key_id, const crypto::RsaPublicNumbers& pub,
                       const std::vector<uint8_t>& quote, const std::vector<uint8_t>& nonce) {
    return integration::KmraReleaseBody(key_id, pub, quote, nonce);
  }

  // The newest audit sequence number, and the records after `after`.
  static Json AuditAfter(int64_t after) {
    auto res =
        Https(Call("GET", "/v1/audit?limit=1000&after=" + std::to_string(after), "", "admin"));
    EXPECT_EQ(res.status, 200) << res.body;
    return Json::parse(res.body)["records"];
  }
  static int64_t LastSeq() {
    int64_t last = 0;
    for (;;) {
      Json records = AuditAfter(last);
      if (records.empty()) return last;
      last = records.back()["seq"].get<int64_t>();
    }
  }

  // Asserts a refusal: status, error code, no key material, and one audit record naming the check.
  static void ExpectRefused(const server::testing::HttpResult& res, int64_t seq_before, long status,
                            const std::string& code) {
    EXPECT_EQ(res.status, status) << res.body;
    Json body = Json::parse(res.body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << res.body;
    EXPECT_EQ(body["error"]["code"], code) << res.body;
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
    for (const char* field : {"wrappedSWK", "wrappedKey", "wrapped_swk", "wrapped_key"}) {
      EXPECT_FALSE(body.contains(field)) << field;
    }
    Json records = AuditAfter(seq_before);
    bool found = false;
    for (const auto& r : records) {
      found |= r["record"]["failed_check"] == code && r["record"]["verdict"] != "allowed";
      EXPECT_NE(r["record"]["verdict"], "allowed") << r.dump();
      EXPECT_TRUE(r["record"]["simulated_root"].get<bool>());
    }
    EXPECT_TRUE(found) << "no audit record with failed_check " << code << ": " << records.dump();
  }

  // Unwraps a release as a KMRA client does and checks the key signs for the certificate.
  static void ExpectUsableKey(const Client& c, const std::vector<uint8_t>& wrapped_swk,
                              const std::vector<uint8_t>& wrapped_key, const std::string& cert_pem,
                              crypto::HashAlg oaep) {
    EXPECT_EQ(integration::CheckReleasedKey(c.key, wrapped_swk, wrapped_key, cert_pem, oaep), "")
        << cert_pem;
  }

  static inline integration::TempDir* dir_ = nullptr;
  static inline integration::Process* server_ = nullptr;
  static inline int port_ = 0;
};

}  // namespace
}  // namespace kmra
