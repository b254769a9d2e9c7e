// The client side of a key release for end-to-end tests: an RSA key (the token's cust key) and a
// simulated enclave quoting over it, the KMRA API 0.2 and /v1 request bodies, and the check a
// client makes of what it got back (the unwrapped key is the certificate's private key).
//
//   auto client = ReleaseClient::Make(pki_dir);
//   auto nonce = KmraNonce(NowUnix());
//   res = Https(... "/sgx/keys/export", client.KmraBody("demo", nonce).dump());
//   EXPECT_EQ(client.CheckKmraReply(res.body), "");
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/key.h"
#include "crypto/rsa.h"
#include "enclave/platform.h"

namespace kmra::integration {

struct ReleaseClient {
  crypto::PrivateKey key;
  crypto::RsaPublicNumbers pub;
  std::unique_ptr<enclave::Platform> platform;

  // An RSA-2048 key and the simulated platform PKI_DIR/sgx/platform-N of `kmra pki init`.
  static ReleaseClient Make(const std::string& pki_dir, int platform = 1);

  // A quote whose report data binds this key and `nonce`.
  std::vector<std::uint8_t> QuoteFor(const std::vector<std::uint8_t>& nonce) const;
  // A key policy naming this enclave (MRENCLAVE and MRSIGNER).
  nlohmann::json Policy() const;
  // The /sgx/keys/export (and /sgx/attest) body with a KMRA client nonce.
  nlohmann::json KmraBody(const std::string& key_id, const std::vector<std::uint8_t>& nonce) const;
  // The /v1/keys/{id}/release body with a server nonce (POST /v1/nonce).
  nlohmann::json V1Body(const std::vector<std::uint8_t>& server_nonce) const;

  // "" when the reply's wrapped SWK and key unwrap to the private key of its certificate, else
  // what is wrong. KMRA API replies wrap with OAEP SHA-1; /v1 replies name their OAEP hash.
  std::string CheckKmraReply(const std::string& body) const;
  std::string CheckV1Reply(const std::string& body) const;
  std::string CheckReleasedKey(const std::vector<std::uint8_t>& wrapped_swk,
                               const std::vector<std::uint8_t>& wrapped_key,
                               const std::string& cert_pem, crypto::HashAlg oaep) const;
};

// "" when `wrapped_swk` unwraps with `client_key` (RSA-OAEP with `oaep`) to a 32-byte SWK that
// unwraps `wrapped_key` (AES key wrap with padding) to the private key of the leaf of `cert_pem`,
// which then signs what the certificate verifies; else what is wrong.
std::string CheckReleasedKey(const crypto::PrivateKey& client_key,
                             const std::vector<std::uint8_t>& wrapped_swk,
                             const std::vector<std::uint8_t>& wrapped_key,
                             const std::string& cert_pem, crypto::HashAlg oaep);

// The KMRA API 0.2 /sgx/keys/export (and /sgx/attest) body for any public key, quote and nonce.
nlohmann::json KmraReleaseBody(const std::string& key_id, const crypto::RsaPublicNumbers& pub,
                               const std::vector<std::uint8_t>& quote,
                               const std::vector<std::uint8_t>& nonce);

// 28 random bytes and the 4-byte little-endian unix time: a KMRA client nonce.
std::vector<std::uint8_t> KmraNonce(std::int64_t unix_time);
std::int64_t NowUnix();

}  // namespace kmra::integration
