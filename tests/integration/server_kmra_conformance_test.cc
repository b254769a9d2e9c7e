// KMRA client conformance: `kmra server --dev` driven exactly the way Intel's own KMRA clients
// (trusted-certificate-issuer's KMRA signer and trusted-attestation-controller's KMRA plugin) drive
// KMRA's AppHSM, byte for byte: TLS 1.3 with a client certificate, "Content-Type: application/json"
// even on GET, the request body as Go's encoding/json writes their structs (field order, standard
// base64, minimal big-endian exponent "AQAB", a 384-byte modulus), a nonce of 28 random bytes and a
// 4-byte little-endian unix time, report data SHA-256(e || n || nonce) || 32 zero bytes, and the
// signer name "tcsissuer.tcs.intel.com/sandbox.external-ca" as h_unique_id. The answer is unwrapped
// the way they do: RSA-OAEP SHA-1 for the SWK, AES key wrap with padding for the PKCS#8 key,
// exactly one PEM certificate, and api_version parsed as major.minor >= 0.2.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/hex.h"
#include "crypto/aes_kw.h"
#include "crypto/key.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "enclave/factory.h"
#include "integration/dev_server.h"
#include "integration/harness.h"

namespace kmra {
namespace {

using Json = nlohmann::json;
using integration::RunCmd;

constexpr char kSignerName[] = "tcsissuer.tcs.intel.com/sandbox.external-ca";

std::string Kmra() { return integration::EnvOr("KMRA_BIN", "kmra"); }

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Reply {
  long status = 0;
  std::string body;
  std::string error;
};

// One request as the Go clients make it: TLS 1.3 only, client certificate, JSON content type on
// every method.
Reply GoClientRequest(const std::string& dir, const std::string& method, const std::string& url,
                      const std::string& body, const std::string& who = "client") {
  Reply r;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  // Two different enums: OR them as the long the option takes (C++20 deprecates enum | enum).
  curl_easy_setopt(curl, CURLOPT_SSLVERSION,
                   long{CURL_SSLVERSION_TLSv1_3} | long{CURL_SSLVERSION_MAX_TLSv1_3});
  curl_easy_setopt(curl, CURLOPT_CAINFO, (dir + "/tls/ca.pem").c_str());
  curl_easy_setopt(curl, CURLOPT_SSLCERT, (dir + "/tls/" + who + ".pem").c_str());
  curl_easy_setopt(curl, CURLOPT_SSLKEY, (dir + "/tls/" + who + ".key").c_str());
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

// "0.2" -> (0, 2), as the clients parse api_version; (-1, -1) when it is not major.minor.
std::pair<int, int> MajorMinor(const std::string& v) {
  int major = -1, minor = -1;
  char tail = 0;
  if (std::sscanf(v.c_str(), "%d.%d%c", &major, &minor, &tail) != 2) return {-1, -1};
  return {major, minor};
}

// The number of PEM certificates in `pem`, and the public key (PEM) of the first.
std::pair<int, std::string> PemCertificates(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  int count = 0;
  std::string first_key;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (count++ == 0) {
      BIO* out = BIO_new(BIO_s_mem());
      PEM_write_bio_PUBKEY(out, X509_get0_pubkey(cert));
      char* data = nullptr;
      long len = BIO_get_mem_data(out, &data);
      first_key.assign(data, static_cast<size_t>(len));
      BIO_free(out);
    }
    X509_free(cert);
  }
  BIO_free(bio);
  return {count, first_key};
}

class KmraConformanceTest : public integration::DevServerTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    InitPki();
    StartServer();
  }
};

TEST_F(KmraConformanceTest, IntelClientRequestsReleaseAKeyTheyCanUnwrap) {
  // The enclave: a simulated platform; its MRENCLAVE/MRSIGNER go into the key's policy.
  enclave::PlatformConfig pc;
  pc.kind = "sim";
  pc.platform_dir = D() + "/sgx/platform-1";
  auto platform = enclave::OpenPlatform(pc);
  ASSERT_TRUE(platform.has_value()) << platform.error().ToString();
  const auto id = (*platform)->Identity();

  // The operator registers the key under TCI's signer name with kmra (the '/' travels URL-encoded),
  // has the CA sign its CSR and attaches the chain (leaf and CA).
  Json policy{{"mrenclave", {HexEncode(id.mrenclave)}}, {"mrsigner", {HexEncode(id.mrsigner)}}};
  ASSERT_TRUE(integration::WriteFile(D() + "/policy.json", policy.dump()));
  auto created = RunCmd({Kmra(), "keys", "create", kSignerName, "--dir", D(), "--type", "rsa-2048",
                         "--policy", D() + "/policy.json"});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  auto csr = RunCmd({Kmra(), "keys", "csr", kSignerName, "--dir", D(), "--subject",
                     "CN=sandbox.external-ca,O=Example"});
  ASSERT_EQ(csr.exit_code, 0) << csr.output;
  ASSERT_TRUE(integration::WriteFile(D() + "/key.csr",
                                     Json::parse(csr.output.substr(csr.output.find('{')))["csr"]));
  auto signed_cert = RunCmd({Kmra(), "pki", "sign", "--dir", D(), "--csr", D() + "/key.csr",
                             "--days", "30", "--out", D() + "/key.pem"});
  ASSERT_EQ(signed_cert.exit_code, 0) << signed_cert.output;
  ASSERT_TRUE(integration::WriteFile(
      D() + "/chain.pem",
      integration::ReadFile(D() + "/key.pem") + integration::ReadFile(D() + "/tls/ca.pem")));
  auto attached =
      RunCmd({Kmra(), "keys", "set-certificate", kSignerName, D() + "/chain.pem", "--dir", D()});
  ASSERT_EQ(attached.exit_code, 0) << attached.output;
  auto shown = RunCmd({Kmra(), "keys", "show", kSignerName, "--dir", D()});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find(kSignerName), std::string::npos) << shown.output;

  // GET /sys/version with a JSON content type; api_version parsed as major.minor >= 0.2.
  Reply version = GoClientRequest(D(), "GET", base_ + "/sys/version", "");
  ASSERT_EQ(version.status, 200) << version.error << version.body;
  Json v = Json::parse(version.body);
  auto [major, minor] = MajorMinor(v["api_version"].get<std::string>());
  EXPECT_TRUE(major > 0 || (major == 0 && minor >= 2)) << version.body;
  EXPECT_FALSE(v["version"].get<std::string>().empty()) << version.body;

  // The token's key: RSA-3072, e = 65537 as the minimal big-endian bytes 01 00 01.
  auto key = crypto::GenerateRsaKey(3072);
  ASSERT_TRUE(key.has_value());
  auto pub = crypto::RsaPublicNumbersOf(*key->PublicKey());
  ASSERT_TRUE(pub.has_value());
  ASSERT_EQ(pub->modulus.size(), 384u);
  ASSERT_EQ(Base64Encode(pub->exponent), "AQAB");

  // Nonce: 28 random bytes || 4-byte little-endian unix time.
  std::vector<uint8_t> nonce = *crypto::RandomBytes(28);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (int i = 0; i < 4; ++i) nonce.push_back(static_cast<uint8_t>(now >> (8 * i)));
  // Report data: SHA-256(e || n || nonce) || 32 zero bytes.
  auto quote =
      (*platform)->Quote(integration::ReleaseReportData(pub->exponent, pub->modulus, nonce));
  ASSERT_TRUE(quote.has_value()) << quote.error().ToString();

  // The body exactly as Go's json.Marshal writes the clients' structs (declaration order).
  const std::string body =
      std::string(R"({"HsmObject":{"h_unique_id":")") + kSignerName +
      R"("},"SgxObject":{"RsaPublicKey":{"ExponentLen":3,"Exponent":"AQAB","ModulusLen":384,)" +
      R"("Modulus":")" + Base64Encode(pub->modulus) + R"("},"SgxQuote":")" + Base64Encode(*quote) +
      R"(","SgxQuoteNonce":")" + Base64Encode(nonce) + R"("}})";
  Reply exported = GoClientRequest(D(), "POST", base_ + "/sgx/keys/export", body);
  ASSERT_EQ(exported.status, 200) << exported.error << exported.body;
  Json reply = Json::parse(exported.body);

  // Unwrap as the clients do: OAEP SHA-1 (and MGF1 SHA-1) for the SWK, then AES-KWP.
  crypto::OaepParams oaep;
  oaep.hash = crypto::HashAlg::kSha1;
  oaep.mgf1 = crypto::HashAlg::kSha1;
  auto swk =
      crypto::RsaOaepDecrypt(*key, *Base64Decode(reply["wrappedSWK"].get<std::string>()), oaep);
  ASSERT_TRUE(swk.has_value()) << swk.error().ToString();
  auto pkcs8 =
      crypto::AesKeyUnwrapPad(swk->Reveal(), *Base64Decode(reply["wrappedKey"].get<std::string>()));
  ASSERT_TRUE(pkcs8.has_value()) << pkcs8.error().ToString();
  auto der = pkcs8->Reveal();
  ASSERT_GE(der.size(), 4u);
  // SoftHSM2 may pad the PKCS#8 to 8 bytes; the DER length says where the key ends.
  const size_t len = der[1] == 0x82 ? 4 + (size_t{der[2]} << 8 | der[3]) : der.size();
  ASSERT_LE(len, der.size());
  auto released = crypto::PrivateKey::FromDer(der.first(len));
  ASSERT_TRUE(released.has_value()) << released.error().ToString();

  // Exactly one PEM certificate (TCI fails on a chain), and it certifies the released key.
  auto cert_bytes = *Base64Decode(reply["certificate"].get<std::string>());
  auto [count, cert_key] = PemCertificates(std::string(cert_bytes.begin(), cert_bytes.end()));
  EXPECT_EQ(count, 1) << std::string(cert_bytes.begin(), cert_bytes.end());
  EXPECT_EQ(*released->PublicKey()->ToPem(), cert_key);

  // /v1 keeps the whole chain for the same key (path segment URL-encoded).
  Reply v1 = GoClientRequest(
      D(), "GET", base_ + "/v1/keys/tcsissuer.tcs.intel.com%2Fsandbox.external-ca", "", "admin");
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(PemCertificates(Json::parse(v1.body)["versions"][0]["certificate_chain"]).first, 2)
      << v1.body;
}

}  // namespace
}  // namespace kmra
