// ECDSA on P-256/P-384, and the two signature encodings in use: DER (X.509, TLS, PKCS#11 callers
// that want DER) and raw r || s (SGX quotes, Intel collateral JSON, PKCS#11 CKM_ECDSA).
//
// Verification results: OkStatus when the signature is valid; Unauthenticated when it is
// well-formed but does not match; InvalidArgument when the signature or the key is malformed or of
// the wrong type. All functions are thread safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "crypto/hash.h"
#include "crypto/key.h"

namespace kmra::crypto {

// r || s (two big-endian integers of equal length) -> DER ECDSA-Sig-Value.
Result<std::vector<uint8_t>> EcdsaRawToDer(std::span<const uint8_t> raw);

// DER ECDSA-Sig-Value -> r || s with each integer left-padded to `coordinate_size` bytes (32 for
// P-256, 48 for P-384). Rejects trailing bytes and integers that do not fit.
Result<std::vector<uint8_t>> EcdsaDerToRaw(std::span<const uint8_t> der, size_t coordinate_size);

// Signs `message` hashed with `hash`; returns DER.
Result<std::vector<uint8_t>> EcdsaSign(const PrivateKey& key, HashAlg hash,
                                       std::span<const uint8_t> message);
// Signs an already computed digest; returns DER.
Result<std::vector<uint8_t>> EcdsaSignDigest(const PrivateKey& key,
                                             std::span<const uint8_t> digest);

// Signs `message` hashed with `hash`; returns raw r || s, each left-padded to the key's coordinate
// size (64 bytes for P-256).
Result<std::vector<uint8_t>> EcdsaSignRaw(const PrivateKey& key, HashAlg hash,
                                          std::span<const uint8_t> message);

Status EcdsaVerify(const PublicKey& key, HashAlg hash, std::span<const uint8_t> message,
                   std::span<const uint8_t> der_signature);
// As EcdsaVerify with a raw r || s signature (length twice the key's coordinate size).
Status EcdsaVerifyRaw(const PublicKey& key, HashAlg hash, std::span<const uint8_t> message,
                      std::span<const uint8_t> raw_signature);
Status EcdsaVerifyDigest(const PublicKey& key, std::span<const uint8_t> digest,
                         std::span<const uint8_t> der_signature);

}  // namespace kmra::crypto
