// RSA on OpenSSL 3: key generation, public numbers, RSA-OAEP, PKCS#1 v1.5 and PSS signatures.
//
// Errors: InvalidArgument for malformed input or the wrong key type (the message names which);
// Unauthenticated for a signature that does not match or a ciphertext that does not decrypt under
// this key and these OAEP parameters. All functions are thread safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/hash.h"
#include "crypto/key.h"

namespace kmra::crypto {

// A fresh key pair with public exponent 65537. `bits` is 2048 to 8192 (1024 is accepted for
// tests and legacy interop only).
Result<PrivateKey> GenerateRsaKey(int bits);

// Big-endian unsigned integers without leading zero bytes (the PKCS#11 CKA_MODULUS form).
struct RsaPublicNumbers {
  std::vector<uint8_t> modulus;
  std::vector<uint8_t> exponent;
};

Result<RsaPublicNumbers> RsaPublicNumbersOf(const PublicKey& key);
// Builds a public key. Leading zero bytes are ignored. Rejects moduli under 1024 bits, even
// moduli, and exponents that are even, below 3 or longer than 8 bytes.
Result<PublicKey> RsaPublicKeyFromNumbers(std::span<const uint8_t> modulus,
                                          std::span<const uint8_t> exponent);

// RSA-OAEP parameters (RFC 8017 section 7.1). `mgf1` defaults to `hash`. KMRA clients use SHA-1
// for both; SHA-256 for both is the modern choice.
struct OaepParams {
  HashAlg hash = HashAlg::kSha256;
  std::optional<HashAlg> mgf1;
  std::vector<uint8_t> label;
};

// The longest plaintext RSA-OAEP with `params` takes under `key`: modulus_bytes - 2 * hash_bytes
// - 2 (RFC 8017 section 7.1.1), or nullopt when the modulus is too short for the hash at all.
std::optional<size_t> RsaOaepMaxInput(const PublicKey& key, const OaepParams& params);

// Encrypts at most RsaOaepMaxInput bytes.
Result<std::vector<uint8_t>> RsaOaepEncrypt(const PublicKey& key,
                                            std::span<const uint8_t> plaintext,
                                            const OaepParams& params = {});
Result<SecretBytes> RsaOaepDecrypt(const PrivateKey& key, std::span<const uint8_t> ciphertext,
                                   const OaepParams& params = {});

enum class RsaPadding { kPkcs1v15, kPss };

// RSA-PSS parameters (RFC 8017 section 9.1), for callers that are given them (PKCS#11
// CK_RSA_PKCS_PSS_PARAMS). `mgf1` defaults to `hash`. `salt_len` defaults, when signing, to the
// digest length and, when verifying, to any length (recovered from the signature); given, it is
// used as is and must fit the key (emLen >= hash_bytes + salt_len + 2).
struct PssParams {
  HashAlg hash = HashAlg::kSha256;
  std::optional<HashAlg> mgf1;
  std::optional<size_t> salt_len;
};

// The longest salt RSA-PSS with `hash` fits under `key`: emLen - hash_bytes - 2 with emLen =
// ceil((modulus_bits - 1) / 8) (RFC 8017 section 9.1.1), or nullopt when the key is too short
// for the hash at all.
std::optional<size_t> RsaPssMaxSalt(const PublicKey& key, HashAlg hash);

// RSA-PSS over an already computed digest of `params.hash`.
Result<std::vector<uint8_t>> RsaPssSignDigest(const PrivateKey& key,
                                              std::span<const uint8_t> digest,
                                              const PssParams& params);
Status RsaPssVerifyDigest(const PublicKey& key, std::span<const uint8_t> digest,
                          std::span<const uint8_t> signature, const PssParams& params);

// Signs `message` hashed with `hash`. PSS uses PssParams{hash}: MGF1 with the same hash and a
// salt as long as the digest (what TLS 1.3 and X.509 use).
Result<std::vector<uint8_t>> RsaSign(const PrivateKey& key, RsaPadding padding, HashAlg hash,
                                     std::span<const uint8_t> message);
// Verifies; PSS accepts any salt length (it is recovered from the signature).
Status RsaVerify(const PublicKey& key, RsaPadding padding, HashAlg hash,
                 std::span<const uint8_t> message, std::span<const uint8_t> signature);

// As RsaSign/RsaVerify over an already computed digest of `hash`.
Result<std::vector<uint8_t>> RsaSignDigest(const PrivateKey& key, RsaPadding padding, HashAlg hash,
                                           std::span<const uint8_t> digest);
Status RsaVerifyDigest(const PublicKey& key, RsaPadding padding, HashAlg hash,
                       std::span<const uint8_t> digest, std::span<const uint8_t> signature);

// PKCS#1 v1.5 block type 1 over caller-formatted data (PKCS#11 CKM_RSA_PKCS: the caller supplies
// the DigestInfo). At most modulus_bytes - 11 bytes.
Result<std::vector<uint8_t>> RsaSignPkcs1Raw(const PrivateKey& key, std::span<const uint8_t> data);

}  // namespace kmra::crypto
