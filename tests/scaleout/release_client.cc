#include "scaleout/release_client.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "crypto/aes_kw.h"
#include "crypto/random.h"
#include "enclave/factory.h"
#include "integration/dev_server.h"

namespace kmra::scaleout {
namespace {

using Json = nlohmann::json;

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Result<std::vector<uint8_t>> B64Field(const Json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) {
    return InvalidArgument(std::string("the answer has no string field ") + name);
  }
  return Base64Decode(j[name].get<std::string>());
}

}  // namespace

std::string HttpReply::Code() const {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("code") && j["error"]["code"].is_string()) {
    return j["error"]["code"].get<std::string>();
  }
  return "";
}

Https::Https(std::string pki_dir, std::string who)
    : dir_(std::move(pki_dir)), who_(std::move(who)), curl_(curl_easy_init()) {
  headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
}

Https::~Https() {
  curl_slist_free_all(headers_);
  curl_easy_cleanup(curl_);
}

HttpReply Https::Call(const std::string& method, const std::string& url, const std::string& body) {
  HttpReply r;
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "GET") {
    curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl_, CURLOPT_CAINFO, (dir_ + "/tls/ca.pem").c_str());
  curl_easy_setopt(curl_, CURLOPT_SSLCERT, (dir_ + "/tls/" + who_ + ".pem").c_str());
  curl_easy_setopt(curl_, CURLOPT_SSLKEY, (dir_ + "/tls/" + who_ + ".key").c_str());
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl_);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  return r;
}

Result<std::unique_ptr<ReleaseClient>> ReleaseClient::Create(
    const std::string& pki_dir, std::shared_ptr<const crypto::PrivateKey> rsa) {
  KMRA_ASSIGN_OR_RETURN(auto pub_key, rsa->PublicKey());
  KMRA_ASSIGN_OR_RETURN(auto pub, crypto::RsaPublicNumbersOf(pub_key));
  enclave::PlatformConfig pc;
  pc.kind = "sim";
  pc.platform_dir = pki_dir + "/sgx/platform-1";
  KMRA_ASSIGN_OR_RETURN(auto platform, enclave::OpenPlatform(pc));
  return std::unique_ptr<ReleaseClient>(
      new ReleaseClient(pki_dir, std::move(rsa), std::move(pub), std::move(platform)));
}

ReleaseClient::ReleaseClient(const std::string& pki_dir,
                             std::shared_ptr<const crypto::PrivateKey> rsa,
                             crypto::RsaPublicNumbers pub,
                             std::unique_ptr<enclave::Platform> platform)
    : rsa_(std::move(rsa)),
      pub_(std::move(pub)),
      platform_(std::move(platform)),
      http_(pki_dir, "client") {}

Result<std::string> ReleaseClient::QuoteB64(const std::vector<uint8_t>& nonce) {
  KMRA_ASSIGN_OR_RETURN(auto quote, platform_->Quote(integration::ReleaseReportData(
                                        pub_.exponent, pub_.modulus, nonce)));
  return Base64Encode(quote);
}

Result<ReleaseRequest> ReleaseClient::Prepare(const std::string& base, Api api,
                                              const std::string& key_id) {
  ReleaseRequest req;
  req.api = api;
  if (api == Api::kKmra) {
    // 28 random bytes || 4-byte little-endian unix time, as Intel's KMRA clients make it.
    KMRA_ASSIGN_OR_RETURN(std::vector<uint8_t> nonce, crypto::RandomBytes(28));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    for (int i = 0; i < 4; ++i) nonce.push_back(static_cast<uint8_t>(now >> (8 * i)));
    KMRA_ASSIGN_OR_RETURN(std::string quote, QuoteB64(nonce));
    Json body{{"HsmObject", {{"h_unique_id", key_id}}},
              {"SgxObject",
               {{"RsaPublicKey",
                 {{"ExponentLen", pub_.exponent.size()},
                  {"Exponent", Base64Encode(pub_.exponent)},
                  {"ModulusLen", pub_.modulus.size()},
                  {"Modulus", Base64Encode(pub_.modulus)}}},
                {"SgxQuote", quote},
                {"SgxQuoteNonce", Base64Encode(nonce)}}}};
    req.path = "/sgx/keys/export";
    req.body = body.dump();
    return req;
  }
  HttpReply issued = http_.Call("POST", base + "/v1/nonce", "{}");
  if (issued.status != 200) {
    return Unavailable("POST /v1/nonce: " + std::to_string(issued.status) + " " + issued.error +
                       issued.body);
  }
  Json j = Json::parse(issued.body, nullptr, false);
  if (!j.is_object()) return Internal("POST /v1/nonce answered no JSON: " + issued.body);
  KMRA_ASSIGN_OR_RETURN(std::vector<uint8_t> nonce, B64Field(j, "nonce"));
  KMRA_ASSIGN_OR_RETURN(std::string quote, QuoteB64(nonce));
  Json body{{"quote", quote},
            {"nonce", Base64Encode(nonce)},
            {"public_key",
             {{"modulus", Base64Encode(pub_.modulus)}, {"exponent", Base64Encode(pub_.exponent)}}}};
  req.path = "/v1/keys/" + key_id + "/release";
  req.body = body.dump();
  return req;
}

HttpReply ReleaseClient::Send(const std::string& base, const ReleaseRequest& request) {
  return http_.Call("POST", base + request.path, request.body);
}

Result<std::string> ReleaseClient::Check(const ReleaseRequest& request, const HttpReply& reply,
                                         int* version) const {
  if (reply.status != 200) {
    return FailedPrecondition("release answered " + std::to_string(reply.status) + " " +
                              reply.error + reply.body.substr(0, 300));
  }
  Json j = Json::parse(reply.body, nullptr, false);
  if (!j.is_object()) return Internal("the release answer is not JSON");
  const bool kmra = request.api == Api::kKmra;
  crypto::OaepParams oaep;  // KMRA clients: OAEP SHA-1 / MGF1 SHA-1
  oaep.hash = crypto::HashAlg::kSha1;
  oaep.mgf1 = crypto::HashAlg::kSha1;
  if (!kmra && j.value("oaep_hash", "") == "sha256") {
    oaep.hash = crypto::HashAlg::kSha256;
    oaep.mgf1 = crypto::HashAlg::kSha256;
  }
  KMRA_ASSIGN_OR_RETURN(auto wrapped_swk, B64Field(j, kmra ? "wrappedSWK" : "wrapped_swk"));
  KMRA_ASSIGN_OR_RETURN(auto wrapped_key, B64Field(j, kmra ? "wrappedKey" : "wrapped_key"));
  KMRA_ASSIGN_OR_RETURN(auto swk, crypto::RsaOaepDecrypt(*rsa_, wrapped_swk, oaep));
  KMRA_ASSIGN_OR_RETURN(auto pkcs8, crypto::AesKeyUnwrapPad(swk.Reveal(), wrapped_key));
  auto der = pkcs8.Reveal();
  if (der.size() < 4) return InvalidArgument("the unwrapped key is too short");
  // SoftHSM2 may pad the PKCS#8 to 8 bytes; the DER length says where the key ends.
  const size_t len = der[1] == 0x82 ? 4 + (size_t{der[2]} << 8 | der[3]) : der.size();
  if (len > der.size()) return InvalidArgument("the unwrapped key's DER length is too long");
  KMRA_ASSIGN_OR_RETURN(auto released, crypto::PrivateKey::FromDer(der.first(len)));
  KMRA_ASSIGN_OR_RETURN(auto released_pub, released.PublicKey());
  KMRA_ASSIGN_OR_RETURN(std::string key_pem, released_pub.ToPem());
  std::string cert_pem;
  if (kmra) {
    KMRA_ASSIGN_OR_RETURN(auto cert, B64Field(j, "certificate"));
    cert_pem.assign(cert.begin(), cert.end());
  } else {
    cert_pem = j.value("certificate_chain", "");
    if (version != nullptr) *version = j.value("version", 0);
  }
  if (FirstCertificateKey(cert_pem) != key_pem) {
    return FailedPrecondition("the released key is not the one its certificate certifies");
  }
  return key_pem;
}

std::string FirstCertificateKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::string key;
  if (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    BIO* out = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(out, X509_get0_pubkey(cert));
    char* data = nullptr;
    long n = BIO_get_mem_data(out, &data);
    key.assign(data, static_cast<size_t>(n));
    BIO_free(out);
    X509_free(cert);
  }
  BIO_free(bio);
  return key;
}

}  // namespace kmra::scaleout
