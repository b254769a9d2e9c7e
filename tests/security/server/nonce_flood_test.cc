// An authenticated client floods POST /v1/nonce (one keep-alive connection, as fast as it can) to
// grow the server's nonce table. The server answers 429 with Retry-After beyond the client's rate
// and outstanding limits, the table stays bounded by the stated cap, and in the same test the
// legitimate flow still works: another client gets a nonce and releases a key with it, and the
// flooding client can still use the nonces it holds.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/hex.h"
#include "crypto/key.h"
#include "crypto/rsa.h"
#include "enclave/factory.h"
#include "enclave/pki/tls_pki.h"
#include "integration/dev_server.h"
#include "integration/harness.h"
#include "store/store.h"

namespace kmra {
namespace {

using Json = nlohmann::json;
using integration::RunCmd;

// The limits this test configures ([attestation] of kmra-server.toml).
constexpr int kMaxOutstanding = 50;
constexpr int kRate = 5;
constexpr int kBurst = 20;
constexpr int kFlood = 100'000;

// One mutual-TLS connection kept alive across requests, as a flooding client would hold it.
class Connection {
 public:
  Connection(const std::string& dir, const std::string& who) : curl_(curl_easy_init()) {
    curl_easy_setopt(curl_, CURLOPT_CAINFO, (dir + "/tls/ca.pem").c_str());
    curl_easy_setopt(curl_, CURLOPT_SSLCERT, (dir + "/tls/" + who + ".pem").c_str());
    curl_easy_setopt(curl_, CURLOPT_SSLKEY, (dir + "/tls/" + who + ".key").c_str());
    headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, Collect);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 60L);
  }
  ~Connection() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  struct Reply {
    long status = 0;
    std::string headers;
    std::string body;
  };
  Reply Send(const std::string& method, const std::string& url, const std::string& body) {
    Reply r;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r.headers);
    if (curl_easy_perform(curl_) == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    }
    return r;
  }

 private:
  static size_t Collect(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  }
  CURL* curl_;
  curl_slist* headers_ = nullptr;
};

class NonceFloodTest : public integration::DevServerTest {
 protected:
  void SetUp() override {
    InitPki();
    ASSERT_NO_FATAL_FAILURE(
        AddToDevConfig("attestation", "nonce_max_outstanding = " + std::to_string(kMaxOutstanding) +
                                          "\nnonce_rate = " + std::to_string(kRate) +
                                          "\nnonce_burst = " + std::to_string(kBurst) + "\n"));
    StartServer();
  }
};

TEST_F(NonceFloodTest, FloodGets429sTheTableStaysBoundedAndReleasesStillWork) {
  Connection attacker(D(), "client");
  int ok = 0, limited = 0, other = 0, without_retry_after = 0;
  std::vector<std::vector<uint8_t>> held;
  for (int i = 0; i < kFlood; ++i) {
    auto r = attacker.Send("POST", base_ + "/v1/nonce", "{}");
    if (r.status == 200) {
      ++ok;
      held.push_back(*Base64Decode(Json::parse(r.body)["nonce"].get<std::string>()));
    } else if (r.status == 429) {
      ++limited;
      without_retry_after += r.headers.find("Retry-After: ") == std::string::npos ? 1 : 0;
    } else {
      ++other;
    }
  }
  std::printf(
      "%d POST /v1/nonce: %d answered 200, %d answered 429 (cap %d outstanding per client)\n",
      kFlood, ok, limited, kMaxOutstanding);
  // Bounded by the cap whatever the speed of this machine: at most kMaxOutstanding unused nonces
  // per client, and at least the burst before the rate limit bites.
  EXPECT_LE(ok, kMaxOutstanding);
  EXPECT_GE(ok, kBurst);
  EXPECT_EQ(limited, kFlood - ok);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(without_retry_after, 0);
  {
    auto store = store::OpenSqliteStore(D() + "/state.db");
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    auto rows = (*store)->CountNonces();
    ASSERT_TRUE(rows.has_value());
    EXPECT_EQ(*rows, ok) << "the nonce table holds exactly the nonces the server handed out";
  }
  auto metrics = attacker.Send("GET", base_ + "/metrics", "");
  EXPECT_NE(metrics.body.find("kmra_nonce_refusals_total"), std::string::npos);

  // The legitimate flow: a release under a policy naming this test's enclave.
  enclave::PlatformConfig pc;
  pc.kind = "sim";
  pc.platform_dir = D() + "/sgx/platform-1";
  auto platform = enclave::OpenPlatform(pc);
  ASSERT_TRUE(platform.has_value()) << platform.error().ToString();
  Connection admin(D(), "admin");
  const auto id = (*platform)->Identity();
  // Both identities of the dev PKI may release the key.
  Json policy{{"mrenclave", {HexEncode(id.mrenclave)}},
              {"mrsigner", {HexEncode(id.mrsigner)}},
              {"clients", {enclave::pki::kDefaultClientId, "kmra_admin"}}};
  ASSERT_EQ(admin.Send("PUT", base_ + "/v1/keys/demo/policy", policy.dump()).status, 200);
  auto key = crypto::GenerateRsaKey(2048);
  ASSERT_TRUE(key.has_value());
  auto pub = *crypto::RsaPublicNumbersOf(*key->PublicKey());
  auto release = [&](Connection& c, const std::vector<uint8_t>& nonce) {
    auto report_data = integration::ReleaseReportData(pub.exponent, pub.modulus, nonce);
    Json body{{"quote", Base64Encode(*(*platform)->Quote(report_data))},
              {"nonce", Base64Encode(nonce)},
              {"public_key",
               {{"modulus", Base64Encode(pub.modulus)}, {"exponent", Base64Encode(pub.exponent)}}}};
    return c.Send("POST", base_ + "/v1/keys/demo/release", body.dump());
  };
  // Another client is not affected by the flood.
  auto fresh = admin.Send("POST", base_ + "/v1/nonce", "{}");
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  auto released =
      release(admin, *Base64Decode(Json::parse(fresh.body)["nonce"].get<std::string>()));
  EXPECT_EQ(released.status, 200) << released.body;
  // The flooding client still holds usable nonces, and using one frees its place.
  ASSERT_FALSE(held.empty());
  auto own = release(attacker, held.front());
  EXPECT_EQ(own.status, 200) << own.body;
}

}  // namespace
}  // namespace kmra
