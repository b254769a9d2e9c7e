// End to end: `kmra server --dev` (real SoftHSM2 token, SQLite store, simulated SGX PKI) releases a
// key to a quote from SimPlatform through the KMRA API (driven with the curl command) and /v1; the
// client unwraps it and signs what the certificate's public key verifies. Every refusal is checked
// for its HTTP status and code, the absence of key material, and its audit record.
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

std::vector<uint8_t> KmraNonce(int64_t unix_time) {
  std::vector<uint8_t> n = *crypto::RandomBytes(28);
  for (int i = 0; i < 4; ++i) n.push_back(static_cast<uint8_t>(unix_time >> (8 * i)));
  return n;
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

// Each scenario is a method; ctest runs each TEST in its own process, and starting the server is
// the expensive part, so the scenarios are grouped into a few tests.
class Scenarios : public ServerReleaseTest {
 protected:
  void CurlDrivesTheKmraApiAndTheClientUnwrapsAUsableKey() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    Json body = KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce);
    ASSERT_TRUE(integration::WriteFile(D() + "/export.json", body.dump()));
    auto curl = [&](const std::string& path, const std::vector<std::string>& extra) {
      std::vector<std::string> argv = {"curl",     "-sS",
                                       "--cacert", D() + "/tls/ca.pem",
                                       "--cert",   D() + "/tls/client.pem",
                                       "--key",    D() + "/tls/client.key"};
      argv.insert(argv.end(), extra.begin(), extra.end());
      argv.push_back(Url(path));
      return RunCmd(argv);
    };
    auto version = curl("/sys/version", {});
    ASSERT_EQ(version.exit_code, 0) << version.output;
    EXPECT_EQ(Json::parse(version.output)["api_version"], "0.2");
    EXPECT_FALSE(Json::parse(version.output)["version"].get<std::string>().empty())
        << version.output;

    auto exported = curl("/sgx/keys/export", {"-H", "Content-Type: application/json",
                                              "--data-binary", "@" + D() + "/export.json"});
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    Json reply = Json::parse(exported.output, nullptr, false);
    ASSERT_FALSE(reply.is_discarded()) << exported.output;
    ASSERT_TRUE(reply.contains("wrappedSWK")) << exported.output;
    ASSERT_TRUE(reply.contains("wrappedKey"));
    ASSERT_TRUE(reply.contains("certificate"));
    auto swk = *Base64Decode(reply["wrappedSWK"].get<std::string>());
    auto key = *Base64Decode(reply["wrappedKey"].get<std::string>());
    auto cert = *Base64Decode(reply["certificate"].get<std::string>());
    EXPECT_EQ(swk.size(), c.pub.modulus.size());
    ExpectUsableKey(c, swk, key, std::string(cert.begin(), cert.end()), crypto::HashAlg::kSha1);
    // API 0.2 answers with the key's certificate alone, as KMRA does (the demo key stores its
    // chain: leaf and CA).
    const std::string cert_text(cert.begin(), cert.end());
    EXPECT_EQ(cert_text.find("BEGIN CERTIFICATE"), cert_text.rfind("BEGIN CERTIFICATE"))
        << cert_text;

    // /sgx/attest says verified for a fresh quote.
    auto nonce2 = KmraNonce(Now());
    ASSERT_TRUE(integration::WriteFile(D() + "/attest.json",
                                       KmraBody("demo", c.pub, c.QuoteFor(nonce2), nonce2).dump()));
    auto attest = curl("/sgx/attest", {"-H", "Content-Type: application/json", "--data-binary",
                                       "@" + D() + "/attest.json"});
    ASSERT_EQ(attest.exit_code, 0) << attest.output;
    EXPECT_TRUE(Json::parse(attest.output)["verified"].get<bool>()) << attest.output;
    // /sgx/attest checks the nonce without using it: the same nonce still releases once, and
    // after that /sgx/attest says it was used; an old nonce is not verified either.
    auto attest_again =
        Https(Call("POST", "/sgx/attest", integration::ReadFile(D() + "/attest.json")));
    EXPECT_TRUE(Json::parse(attest_again.body)["verified"].get<bool>()) << attest_again.body;
    EXPECT_EQ(
        Https(Call("POST", "/sgx/keys/export", integration::ReadFile(D() + "/attest.json"))).status,
        200);
    auto used = Https(Call("POST", "/sgx/attest", integration::ReadFile(D() + "/attest.json")));
    EXPECT_FALSE(Json::parse(used.body)["verified"].get<bool>()) << used.body;
    EXPECT_EQ(Json::parse(used.body)["error"]["code"], "nonce.reused") << used.body;
    auto old = KmraNonce(Now() - 600);
    auto stale =
        Https(Call("POST", "/sgx/attest", KmraBody("demo", c.pub, c.QuoteFor(old), old).dump()));
    EXPECT_FALSE(Json::parse(stale.body)["verified"].get<bool>()) << stale.body;
    EXPECT_EQ(Json::parse(stale.body)["error"]["code"], "nonce.expired") << stale.body;
  }

  void V1ReleaseWithServerNonceAndSpki() {
    Client& c = MakeClient();
    auto nonce_res = Https(Call("POST", "/v1/nonce", "{}"));
    ASSERT_EQ(nonce_res.status, 200) << nonce_res.body;
    auto nonce = *Base64Decode(Json::parse(nonce_res.body)["nonce"].get<std::string>());
    auto spki = *c.key.PublicKey()->ToSpkiDer();
    auto pub = *crypto::RsaPublicNumbersOf(*c.key.PublicKey());
    Json body{{"quote", Base64Encode(c.QuoteFor(nonce))},
              {"nonce", Base64Encode(nonce)},
              {"public_key", {{"spki", Base64Encode(spki)}}}};
    auto res = Https(Call("POST", "/v1/keys/demo/release", body.dump()));
    ASSERT_EQ(res.status, 200) << res.body;
    Json reply = Json::parse(res.body);
    EXPECT_EQ(reply["version"], 1);
    EXPECT_EQ(reply["attestation"]["tcb_status"], "UpToDate");
    // SoftHSM2 2.6.1 cannot wrap with OAEP SHA-256; the response names what was used.
    std::string oaep = reply["oaep_hash"];
    EXPECT_NE(reply["swk_mechanism"].get<std::string>().find("OAEP"), std::string::npos);
    ExpectUsableKey(c, *Base64Decode(reply["wrapped_swk"].get<std::string>()),
                    *Base64Decode(reply["wrapped_key"].get<std::string>()),
                    reply["certificate_chain"],
                    oaep == "sha256" ? crypto::HashAlg::kSha256 : crypto::HashAlg::kSha1);
    // The server nonce is single use.
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/v1/keys/demo/release", body.dump())), seq, 403,
                  "nonce.invalid");
  }

  void RefusesWithoutClientCertificateOrFromAnUnknownCa() {
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", "{}", "")), seq, 401,
                  "client_certificate.missing");
    // A certificate with the right OU from a CA the server does not trust.
    std::string rogue = D() + "/rogue";
    std::filesystem::create_directories(rogue);
    auto made =
        RunCmd({"bash", "-c",
                "cd " + rogue +
                    " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                    "-keyout client.key -out client.pem -days 1 "
                    "-subj '/O=Rogue/OU=ctk_loadkey_user_id_01234/CN=client' 2>&1"});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    HttpCall call = Call("POST", "/sgx/keys/export", "{}", "");
    call.cert_file = rogue + "/client.pem";
    call.key_file = rogue + "/client.key";
    seq = LastSeq();
    ExpectRefused(Https(call), seq, 401, "client_certificate.untrusted");
  }

  void RefusesAClientNotAllowedForTheKey() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    int64_t seq = LastSeq();
    // The admin certificate is valid, but its OU is not an allowed client of the key.
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump(), "admin")),
                  seq, 403, "policy.client");
  }

  void RefusesATamperedQuoteWithTheVerifierCheck() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    auto quote = c.QuoteFor(nonce);
    quote[64 + 48] ^= 0x01;  // a byte of MRENCLAVE: the ISV report signature no longer matches
    int64_t seq = LastSeq();
    auto res =
        Https(Call("POST", "/sgx/keys/export", KmraBody("demo", c.pub, quote, nonce).dump()));
    EXPECT_EQ(res.status, 403) << res.body;
    Json body = Json::parse(res.body);
    std::string code = body["error"]["code"];
    EXPECT_FALSE(body["error"]["details"]["checks"].empty()) << res.body;
    ExpectRefused(res, seq, 403, code);
  }

  void RefusesReportDataNotBoundToThePublicKey() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    // The enclave quoted another key; the request carries ours.
    std::vector<uint8_t> other_modulus = c.pub.modulus;
    other_modulus.back() ^= 0x02;
    auto quote = c.QuoteFor(nonce, &other_modulus);
    int64_t seq = LastSeq();
    ExpectRefused(
        Https(Call("POST", "/sgx/keys/export", KmraBody("demo", c.pub, quote, nonce).dump())), seq,
        403, "report_data.binding");
  }

  void RefusesReusedAndExpiredNonces() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    std::string body = KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump();
    ASSERT_EQ(Https(Call("POST", "/sgx/keys/export", body)).status, 200);
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "nonce.reused");
    auto old = KmraNonce(Now() - 3600);
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", c.pub, c.QuoteFor(old), old).dump())),
                  seq, 403, "nonce.expired");
    // trusted-certificate-issuer with --use-random-nonce=false sends the bytes 00..1f, whose time
    // reads 1986: the message says the nonce must carry the current time.
    std::vector<uint8_t> fixed(32);
    for (size_t i = 0; i < fixed.size(); ++i) fixed[i] = static_cast<uint8_t>(i);
    seq = LastSeq();
    auto res = Https(
        Call("POST", "/sgx/keys/export", KmraBody("demo", c.pub, c.QuoteFor(fixed), fixed).dump()));
    ExpectRefused(res, seq, 403, "nonce.expired");
    EXPECT_NE(res.body.find("1986"), std::string::npos) << res.body;
    EXPECT_NE(res.body.find("current unix time"), std::string::npos) << res.body;
  }

  void RunPolicyChangesApplyWithoutRestart() {
    Client& c = MakeClient();
    Json policy{{"mrenclave", {std::string(64, 'a')}}};
    auto set = Https(Call("PUT", "/v1/keys/demo/policy", policy.dump(), "admin"));
    ASSERT_EQ(set.status, 200) << set.body;
    auto nonce = KmraNonce(Now());
    const std::string body = KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump();
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "policy.mrenclave");
    // Deny by default: a policy that names no enclave is refused, and the key stays as it was.
    auto empty = Https(Call("PUT", "/v1/keys/demo/policy", "{}", "admin"));
    EXPECT_EQ(empty.status, 400) << empty.body;
    EXPECT_NE(empty.body.find("allow_any_enclave"), std::string::npos) << empty.body;
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "policy.mrenclave");
    // The operator fixes the policy; the client retries the very same request (same nonce, as
    // trusted-certificate-issuer re-sends its cached quote) and gets the key.
    ASSERT_EQ(Https(Call("PUT", "/v1/keys/demo/policy", TestPolicy().dump(), "admin")).status, 200);
    auto retried = Https(Call("POST", "/sgx/keys/export", body));
    EXPECT_EQ(retried.status, 200) << retried.body;
    // Now the nonce is spent: a replay of the successful request is refused.
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "nonce.reused");
  }

  // A key registered without a policy (as apphsm.conf keys are, or keys of older versions) and a
  // stored policy "{}" are never released; once the key gets a policy, the same nonce works.
  void RunKeyWithoutPolicyIsNeverReleased() {
    auto created =
        Https(Call("POST", "/v1/keys", R"({"id":"nopolicy","type":"rsa-2048"})", "admin"));
    EXPECT_EQ(created.status, 400) << created.body;
    EXPECT_NE(created.body.find("policy"), std::string::npos) << created.body;
    auto open_policy = Https(
        Call("POST", "/v1/keys", R"({"id":"nopolicy","type":"rsa-2048","policy":{}})", "admin"));
    EXPECT_EQ(open_policy.status, 400) << open_policy.body;
    // Register a key the way apphsm.conf does: a registry entry naming the demo key's HSM object,
    // with no policy (the server has no [policy] default).
    {
      auto store = store::OpenSqliteStore(D() + "/state.db");
      ASSERT_TRUE(store.has_value()) << store.error().ToString();
      auto demo = (*store)->GetKey("demo");
      ASSERT_TRUE(demo.has_value());
      ASSERT_TRUE((*store)->CreateKey({"legacy", "no policy", Now()}));
      ASSERT_TRUE((*store)->AddKeyVersion("legacy", *demo->newest()));
    }
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    const std::string body = KmraBody("legacy", c.pub, c.QuoteFor(nonce), nonce).dump();
    int64_t seq = LastSeq();
    auto res = Https(Call("POST", "/sgx/keys/export", body));
    ExpectRefused(res, seq, 403, "policy.missing");
    EXPECT_NE(res.body.find("kmra policy set legacy"), std::string::npos) << res.body;
    EXPECT_NE(res.body.find("[policy] default"), std::string::npos) << res.body;
    auto listed = Https(Call("GET", "/v1/keys", "", "admin"));
    EXPECT_NE(listed.body.find(R"("release_policy":"missing")"), std::string::npos) << listed.body;
    // A policy "{}" stored by an older version: refused the same way.
    {
      auto store = store::OpenSqliteStore(D() + "/state.db");
      ASSERT_TRUE(store.has_value());
      ASSERT_TRUE((*store)->PutPolicy({"legacy", "{}", Now()}));
    }
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "policy.missing");
    // The fix, then the same request again.
    auto fixed = Https(Call("PUT", "/v1/keys/legacy/policy", TestPolicy().dump(), "admin"));
    ASSERT_EQ(fixed.status, 200) << fixed.curl_error << fixed.body << "\nserver log:\n"
                                 << integration::ReadFile(D() + "/server.log");
    auto released = Https(Call("POST", "/sgx/keys/export", body));
    EXPECT_EQ(released.status, 200) << released.body;
    // An explicit "any enclave" policy releases, and says so in the key list and /readyz.
    ASSERT_EQ(Https(Call("PUT", "/v1/keys/legacy/policy", R"({"allow_any_enclave":true})", "admin"))
                  .status,
              200);
    auto nonce2 = KmraNonce(Now());
    EXPECT_EQ(Https(Call("POST", "/sgx/keys/export",
                         KmraBody("legacy", c.pub, c.QuoteFor(nonce2), nonce2).dump()))
                  .status,
              200);
    listed = Https(Call("GET", "/v1/keys", "", "admin"));
    EXPECT_NE(listed.body.find(R"("release_policy":"any_enclave")"), std::string::npos)
        << listed.body;
    auto ready = Https(Call("GET", "/readyz", "", ""));
    EXPECT_EQ(Json::parse(ready.body)["keys_allowing_any_enclave"], 1) << ready.body;
    EXPECT_NE(integration::ReadFile(D() + "/server.log").find("allow_any_enclave"),
              std::string::npos);
    // Remove the registry entry only: its HSM object is the demo key's.
    auto store = store::OpenSqliteStore(D() + "/state.db");
    ASSERT_TRUE(store.has_value());
    EXPECT_TRUE((*store)->DeleteKey("legacy"));
  }

  void RefusesAnOutOfDateTcbARevokedPckNoTcbLevelAndADebugEnclave() {
    Client& outdated = MakeClient(2);
    auto n1 = KmraNonce(Now());
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", outdated.pub, outdated.QuoteFor(n1), n1).dump())),
                  seq, 403, "policy.tcb_status");

    Client& revoked = MakeClient(3);
    auto n2 = KmraNonce(Now());
    seq = LastSeq();
    auto res = Https(Call("POST", "/sgx/keys/export",
                          KmraBody("demo", revoked.pub, revoked.QuoteFor(n2), n2).dump()));
    ExpectRefused(res, seq, 403, "pck.revoked");

    // No TCB level met: not verified (as Intel's QVL), refused before any policy.
    Client& below = MakeClient(4);
    auto n4 = KmraNonce(Now());
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", below.pub, below.QuoteFor(n4), n4).dump())),
                  seq, 403, "tcb.level_not_supported");

    Client& debug = MakeClient(1, /*debug=*/true);
    auto n3 = KmraNonce(Now());
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", debug.pub, debug.QuoteFor(n3), n3).dump())),
                  seq, 403, "policy.debug");
  }

  void MalformedAndOversizedJsonGetClearErrors() {
    int64_t seq = LastSeq();
    auto bad = Https(Call("POST", "/sgx/keys/export", "{\"HsmObject\":"));
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_EQ(Json::parse(bad.body)["error"]["code"], "request.invalid");
    auto deep = Https(Call("POST", "/sgx/keys/export", std::string(5000, '[')));
    EXPECT_EQ(deep.status, 413) << deep.body;
    auto huge = Https(Call("POST", "/sgx/keys/export", std::string(2 << 20, ' ')));
    EXPECT_EQ(huge.status, 413) << huge.body;
    auto missing =
        Https(Call("POST", "/sgx/keys/export", R"({"HsmObject":{"h_unique_id":"demo"}})"));
    EXPECT_EQ(missing.status, 400);
    EXPECT_NE(Json::parse(missing.body)["error"]["message"].get<std::string>().find("SgxObject"),
              std::string::npos);
    (void)seq;
  }

  void RotationServesTheNewestVersionAndAuditChainVerifies() {
    Json create{{"id", "rot"}, {"type", "rsa-2048"}, {"policy", TestPolicy()}};
    auto created = Https(Call("POST", "/v1/keys", create.dump(), "admin"));
    ASSERT_EQ(created.status, 201) << created.body;
    auto rotated = Https(Call("POST", "/v1/keys/rot/rotate", "{}", "admin"));
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    Client& c = MakeClient();
    auto nonce = Https(Call("POST", "/v1/nonce", "{}"));
    auto n = *Base64Decode(Json::parse(nonce.body)["nonce"].get<std::string>());
    Json body{
        {"quote", Base64Encode(c.QuoteFor(n))},
        {"nonce", Base64Encode(n)},
        {"public_key",
         {{"modulus", Base64Encode(c.pub.modulus)}, {"exponent", Base64Encode(c.pub.exponent)}}}};
    auto res = Https(Call("POST", "/v1/keys/rot/release", body.dump()));
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(Json::parse(res.body)["version"], 2);
    auto verify = RunCmd({Kmra(), "audit", "verify", "--db", D() + "/state.db"});
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_NE(verify.output.find("intact"), std::string::npos) << verify.output;
    auto api = Https(Call("GET", "/v1/audit/verify", "", "admin"));
    EXPECT_EQ(api.status, 200) << api.body;
    EXPECT_TRUE(Json::parse(api.body)["intact"].get<bool>());
    auto del = RunCmd({Kmra(), "keys", "delete", "rot", "--dir", D()});
    EXPECT_EQ(del.exit_code, 0) << del.output;
  }

  // The HSM's token storage disappears (a failed disk or NFS mount of the token directory):
  // releases fail with 503 hsm.unavailable; when it is back they work, with no restart of the key
  // server.
  void RunHsmOutage() {
    Client& c = MakeClient();
    auto release = [&]() {
      auto nonce = KmraNonce(Now());
      return Https(Call("POST", "/sgx/keys/export",
                        KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump()));
    };
    ASSERT_EQ(release().status, 200);
    std::string tokens = D() + "/hsm/tokens", away = D() + "/hsm/tokens-away";
    std::filesystem::rename(tokens, away);
    // The same requests are retried after the outage: the KMRA client nonce and the /v1 server
    // nonce both survive a 503 (docs/api.md tells clients to retry it).
    auto nonce = KmraNonce(Now());
    const std::string kmra_body = KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump();
    auto issued = Https(Call("POST", "/v1/nonce", "{}"));
    ASSERT_EQ(issued.status, 200) << issued.body;
    auto server_nonce = *Base64Decode(Json::parse(issued.body)["nonce"].get<std::string>());
    const std::string v1_body = Json{{"quote", Base64Encode(c.QuoteFor(server_nonce))},
                                     {"nonce", Base64Encode(server_nonce)},
                                     {"public_key",
                                      {{"modulus", Base64Encode(c.pub.modulus)},
                                       {"exponent", Base64Encode(c.pub.exponent)}}}}
                                    .dump();
    int64_t seq = LastSeq();
    auto refused = Https(Call("POST", "/sgx/keys/export", kmra_body));
    auto refused_v1 = Https(Call("POST", "/v1/keys/demo/release", v1_body));
    std::filesystem::rename(away, tokens);
    ExpectRefused(refused, seq, 503, "hsm.unavailable");
    ExpectRefused(refused_v1, seq, 503, "hsm.unavailable");
    auto again = Https(Call("POST", "/sgx/keys/export", kmra_body));
    EXPECT_EQ(again.status, 200) << again.body;
    auto again_v1 = Https(Call("POST", "/v1/keys/demo/release", v1_body));
    EXPECT_EQ(again_v1.status, 200) << again_v1.body;
  }
};

TEST_F(Scenarios, ReleasesThroughBothApis) {
  {
    SCOPED_TRACE("CurlDrivesTheKmraApiAndTheClientUnwrapsAUsableKey");
    CurlDrivesTheKmraApiAndTheClientUnwrapsAUsableKey();
  }
  {
    SCOPED_TRACE("V1ReleaseWithServerNonceAndSpki");
    V1ReleaseWithServerNonceAndSpki();
  }
  {
    SCOPED_TRACE("RotationServesTheNewestVersionAndAuditChainVerifies");
    RotationServesTheNewestVersionAndAuditChainVerifies();
  }
}

TEST_F(Scenarios, RefusalsLeaveAnAuditRecordAndNoKey) {
  {
    SCOPED_TRACE("RefusesWithoutClientCertificateOrFromAnUnknownCa");
    RefusesWithoutClientCertificateOrFromAnUnknownCa();
  }
  {
    SCOPED_TRACE("RefusesAClientNotAllowedForTheKey");
    RefusesAClientNotAllowedForTheKey();
  }
  {
    SCOPED_TRACE("RefusesATamperedQuoteWithTheVerifierCheck");
    RefusesATamperedQuoteWithTheVerifierCheck();
  }
  {
    SCOPED_TRACE("RefusesReportDataNotBoundToThePublicKey");
    RefusesReportDataNotBoundToThePublicKey();
  }
  {
    SCOPED_TRACE("RefusesReusedAndExpiredNonces");
    RefusesReusedAndExpiredNonces();
  }
  {
    SCOPED_TRACE("RefusesAnOutOfDateTcbARevokedPckNoTcbLevelAndADebugEnclave");
    RefusesAnOutOfDateTcbARevokedPckNoTcbLevelAndADebugEnclave();
  }
  {
    SCOPED_TRACE("MalformedAndOversizedJsonGetClearErrors");
    MalformedAndOversizedJsonGetClearErrors();
  }
}

TEST_F(Scenarios, PolicyChangesApplyWithoutRestart) {
  {
    SCOPED_TRACE("PolicyChangesApplyWithoutRestart");
    RunPolicyChangesApplyWithoutRestart();
  }
}

TEST_F(Scenarios, HsmOutageGives503AndRecoversWithoutRestart) { RunHsmOutage(); }

TEST_F(Scenarios, KeyWithoutPolicyIsNeverReleased) { RunKeyWithoutPolicyIsNeverReleased(); }

// Admin key creation is atomic: of concurrent creations of one id exactly one succeeds and the HSM
// holds one key for it; a creation that fails after the key was made leaves no HSM object and no
// registry entry behind.
// One key's HSM object disappears (deleted by hand): releases of that key are refused, naming it,
// and releases of the other keys, running at the same time, are not disturbed (no reconnect of
// the HSM under them).
TEST_F(Scenarios, AMissingHsmObjectAffectsOnlyItsKey) {
  Json create{{"id", "lost"}, {"type", "ec-p256"}, {"policy", TestPolicy()}};
  ASSERT_EQ(Https(Call("POST", "/v1/keys", create.dump(), "admin")).status, 201);
  auto removed = RunCmd({"pkcs11-tool", "--module", "/usr/lib/softhsm/libsofthsm2.so",
                         "--token-label", "kmra", "--login", "--pin",
                         integration::ReadFile(D() + "/hsm/pin").substr(0, 24), "--delete-object",
                         "--type", "privkey", "--label", "kmra:lost:v1"},
                        {{"SOFTHSM2_CONF", D() + "/hsm/softhsm2.conf"}});
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  Client& c = MakeClient();
  std::vector<std::string> lost_bodies, demo_bodies;
  for (int i = 0; i < 15; ++i) {
    auto n1 = KmraNonce(Now());
    lost_bodies.push_back(KmraBody("lost", c.pub, c.QuoteFor(n1), n1).dump());
    auto n2 = KmraNonce(Now());
    demo_bodies.push_back(KmraBody("demo", c.pub, c.QuoteFor(n2), n2).dump());
  }
  int64_t seq = LastSeq();
  std::vector<server::testing::HttpResult> lost(lost_bodies.size()), demo(demo_bodies.size());
  std::thread breaker([&] {
    for (size_t i = 0; i < lost.size(); ++i) lost[i] = Https(Call("POST", "/sgx/keys/export", lost_bodies[i]));
  });
  for (size_t i = 0; i < demo.size(); ++i) demo[i] = Https(Call("POST", "/sgx/keys/export", demo_bodies[i]));
  breaker.join();
  for (const auto& r : demo) EXPECT_EQ(r.status, 200) << r.body;
  for (const auto& r : lost) {
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(Json::parse(r.body)["error"]["code"], "hsm.key_missing") << r.body;
    EXPECT_NE(r.body.find("kmra:lost:v1"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("wrappedKey"), std::string::npos);
  }
  size_t audited_lost = 0, audited_demo = 0;
  for (const auto& r : AuditAfter(seq)) {
    const Json& rec = r["record"];
    if (rec["key_id"] == "lost" && rec["failed_check"] == "hsm.key_missing") ++audited_lost;
    if (rec["key_id"] == "demo" && rec["verdict"] == "allowed") ++audited_demo;
  }
  EXPECT_EQ(audited_lost, lost.size());
  EXPECT_EQ(audited_demo, demo.size());
}

TEST_F(Scenarios, KeyCreationLeavesNoOrphanHsmObjects) {
  auto hsm_objects = [&](const std::string& label) {
    auto listed = RunCmd({"pkcs11-tool", "--module", "/usr/lib/softhsm/libsofthsm2.so",
                          "--token-label", "kmra", "--login", "--pin",
                          integration::ReadFile(D() + "/hsm/pin").substr(0, 24), "--list-objects",
                          "--type", "privkey"},
                         {{"SOFTHSM2_CONF", D() + "/hsm/softhsm2.conf"}});
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    size_t n = 0;
    const std::string needle = "label:      " + label + "\n";
    for (size_t p = listed.output.find(needle); p != std::string::npos;
         p = listed.output.find(needle, p + 1)) {
      ++n;
    }
    return n;
  };
  const std::string body =
      Json{{"id", "race"}, {"type", "ec-p256"}, {"policy", TestPolicy()}}.dump();
  std::vector<std::thread> threads;
  std::vector<long> statuses(6);
  for (size_t i = 0; i < statuses.size(); ++i) {
    threads.emplace_back(
        [&, i] { statuses[i] = Https(Call("POST", "/v1/keys", body, "admin")).status; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 409), 5);
  EXPECT_EQ(hsm_objects("kmra:race:v1"), 1u);

  // The demo key's certificate does not belong to a new key: refused after the key was generated.
  auto demo = Json::parse(Https(Call("GET", "/v1/keys/demo", "", "admin")).body);
  const std::string mismatched = Json{{"id", "mismatch"},
                                      {"type", "ec-p256"},
                                      {"policy", TestPolicy()},
                                      {"certificate_pem", demo["versions"][0]["certificate_chain"]}}
                                     .dump();
  auto refused = Https(Call("POST", "/v1/keys", mismatched, "admin"));
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(Https(Call("GET", "/v1/keys/mismatch", "", "admin")).status, 404);
  EXPECT_EQ(hsm_objects("kmra:mismatch:v1"), 0u);
  // The id is free again, and the legitimate creation works.
  auto created = Https(Call("POST", "/v1/keys",
                            Json{{"id", "mismatch"}, {"type", "ec-p256"}, {"policy", TestPolicy()}}
                                .dump(),
                            "admin"));
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(hsm_objects("kmra:mismatch:v1"), 1u);
}

}  // namespace
}  // namespace kmra
