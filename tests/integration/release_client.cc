#include "integration/release_client.h"

#include <openssl/pem.h>

#include <chrono>

#include "base/base64.h"
#include "base/hex.h"
#include "crypto/aes_kw.h"
#include "crypto/random.h"
#include "enclave/factory.h"
#include "integration/dev_server.h"

namespace kmra::integration {
namespace {

using Json = nlohmann::json;

// The certificate's public key (the leaf, the first PEM block) as PEM; "" when it does not parse.
std::string CertPublicKeyPem(const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return {};
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(out, X509_get0_pubkey(cert));
  char* data = nullptr;
  const long len = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(out);
  X509_free(cert);
  return pem;
}

std::vector<std::uint8_t> Field(const Json& reply, const char* name) {
  if (!reply.contains(name) || !reply[name].is_string()) return {};
  auto bytes = Base64Decode(reply[name].get<std::string>());
  return bytes ? *bytes : std::vector<std::uint8_t>{};
}

}  // namespace

std::vector<std::uint8_t> KmraNonce(std::int64_t unix_time) {
  std::vector<std::uint8_t> n = *crypto::RandomBytes(28);
  for (int i = 0; i < 4; ++i) n.push_back(static_cast<std::uint8_t>(unix_time >> (8 * i)));
  return n;
}

std::int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ReleaseClient ReleaseClient::Make(const std::string& pki_dir, int platform) {
  ReleaseClient c{*crypto::GenerateRsaKey(2048), {}, nullptr};
  c.pub = *crypto::RsaPublicNumbersOf(*c.key.PublicKey());
  enclave::PlatformConfig pc;
  pc.kind = "sim";
  pc.platform_dir = pki_dir + "/sgx/platform-" + std::to_string(platform);
  auto p = enclave::OpenPlatform(pc);
  if (p) c.platform = std::move(*p);
  return c;
}

std::vector<std::uint8_t> ReleaseClient::QuoteFor(const std::vector<std::uint8_t>& nonce) const {
  if (!platform) return {};
  auto quote = platform->Quote(ReleaseReportData(pub.exponent, pub.modulus, nonce));
  return quote ? *quote : std::vector<std::uint8_t>{};
}

Json ReleaseClient::Policy() const {
  const auto id = platform->Identity();
  return Json{{"mrenclave", {HexEncode(id.mrenclave)}}, {"mrsigner", {HexEncode(id.mrsigner)}}};
}

Json ReleaseClient::KmraBody(const std::string& key_id,
                             const std::vector<std::uint8_t>& nonce) const {
  return KmraReleaseBody(key_id, pub, QuoteFor(nonce), nonce);
}

Json KmraReleaseBody(const std::string& key_id, const crypto::RsaPublicNumbers& pub,
                     const std::vector<std::uint8_t>& quote,
                     const std::vector<std::uint8_t>& nonce) {
  return Json{{"HsmObject", {{"h_unique_id", key_id}}},
              {"SgxObject",
               {{"RsaPublicKey",
                 {{"ExponentLen", pub.exponent.size()},
                  {"Exponent", Base64Encode(pub.exponent)},
                  {"ModulusLen", pub.modulus.size()},
                  {"Modulus", Base64Encode(pub.modulus)}}},
                {"SgxQuote", Base64Encode(quote)},
                {"SgxQuoteNonce", Base64Encode(nonce)}}}};
}

Json ReleaseClient::V1Body(const std::vector<std::uint8_t>& server_nonce) const {
  return Json{{"quote", Base64Encode(QuoteFor(server_nonce))},
              {"nonce", Base64Encode(server_nonce)},
              {"public_key", {{"spki", Base64Encode(*key.PublicKey()->ToSpkiDer())}}}};
}

std::string ReleaseClient::CheckKmraReply(const std::string& body) const {
  const Json reply = Json::parse(body, nullptr, false);
  if (reply.is_discarded() || !reply.contains("wrappedSWK")) return "not a release: " + body;
  const auto cert = Field(reply, "certificate");
  return CheckReleasedKey(Field(reply, "wrappedSWK"), Field(reply, "wrappedKey"),
                          std::string(cert.begin(), cert.end()), crypto::HashAlg::kSha1);
}

std::string ReleaseClient::CheckV1Reply(const std::string& body) const {
  const Json reply = Json::parse(body, nullptr, false);
  if (reply.is_discarded() || !reply.contains("wrapped_swk")) return "not a release: " + body;
  const bool sha256 = reply.value("oaep_hash", "") == "sha256";
  return CheckReleasedKey(Field(reply, "wrapped_swk"), Field(reply, "wrapped_key"),
                          reply.value("certificate_chain", ""),
                          sha256 ? crypto::HashAlg::kSha256 : crypto::HashAlg::kSha1);
}

std::string ReleaseClient::CheckReleasedKey(const std::vector<std::uint8_t>& wrapped_swk,
                                            const std::vector<std::uint8_t>& wrapped_key,
                                            const std::string& cert_pem,
                                            crypto::HashAlg oaep) const {
  return integration::CheckReleasedKey(key, wrapped_swk, wrapped_key, cert_pem, oaep);
}

std::string CheckReleasedKey(const crypto::PrivateKey& client_key,
                             const std::vector<std::uint8_t>& wrapped_swk,
                             const std::vector<std::uint8_t>& wrapped_key,
                             const std::string& cert_pem, crypto::HashAlg oaep) {
  crypto::OaepParams params;
  params.hash = oaep;
  params.mgf1 = oaep;
  auto swk = crypto::RsaOaepDecrypt(client_key, wrapped_swk, params);
  if (!swk) return "the SWK does not unwrap: " + swk.error().ToString();
  if (swk->size() != 32) return "the SWK is " + std::to_string(swk->size()) + " bytes, not 32";
  auto pkcs8 = crypto::AesKeyUnwrapPad(swk->Reveal(), wrapped_key);
  if (!pkcs8) return "the key does not unwrap: " + pkcs8.error().ToString();
  // SoftHSM2 2.6.1 pads the PKCS#8 to a multiple of 8 bytes before the RFC 5649 wrap, so the
  // unwrapped bytes can end in zero padding; the DER's own length says where the key ends.
  auto der = pkcs8->Reveal();
  if (der.size() < 4 || der[0] != 0x30) return "the unwrapped key is not DER";
  const size_t len = der[1] == 0x82 ? 4 + (size_t{der[2]} << 8 | der[3]) : der.size();
  if (len > der.size()) return "the unwrapped DER is cut short";
  for (size_t i = len; i < der.size(); ++i) {
    if (der[i] != 0) return "non-zero padding after the DER";
  }
  auto released = crypto::PrivateKey::FromDer(der.first(len));
  if (!released) return "the unwrapped key does not parse: " + released.error().ToString();
  auto cert_pub = crypto::PublicKey::FromPem(CertPublicKeyPem(cert_pem));
  if (!cert_pub) return "the certificate does not parse: " + cert_pem;
  if (*released->PublicKey()->ToPem() != *cert_pub->ToPem()) {
    return "the released key is not the certificate's key";
  }
  const std::string message = "handshake transcript";
  std::span<const std::uint8_t> msg(reinterpret_cast<const std::uint8_t*>(message.data()),
                                    message.size());
  auto sig = crypto::RsaSign(*released, crypto::RsaPadding::kPss, crypto::HashAlg::kSha256, msg);
  if (!sig) return "the released key does not sign: " + sig.error().ToString();
  if (!crypto::RsaVerify(*cert_pub, crypto::RsaPadding::kPss, crypto::HashAlg::kSha256, msg,
                         *sig)) {
    return "the certificate does not verify the released key's signature";
  }
  return "";
}

}  // namespace kmra::integration
