// ECDSA P-256 in the raw forms SGX uses: signatures r||s (32 bytes each, big endian) and public
// keys x||y (no 0x04 prefix). DCAP.md: "all ECDSA values are raw big-endian".
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <span>

#include "base/result.h"
#include "crypto/ossl.h"

namespace kmra::enclave::internal {

// ECDSA-P256-SHA256 signature of `data` with `key`, as r||s.
Result<std::array<std::uint8_t, 64>> SignP256Raw(EVP_PKEY* key, std::span<const std::uint8_t> data);

// True when `sig` (r||s) is a valid ECDSA-P256-SHA256 signature of `data` by `key`.
bool VerifyP256Raw(EVP_PKEY* key, std::span<const std::uint8_t> data,
                   std::span<const std::uint8_t, 64> sig);

// The public point of a P-256 key as x||y. Fails for keys of another type or curve.
Result<std::array<std::uint8_t, 64>> P256PublicRaw(EVP_PKEY* key);

// A fresh P-256 key pair.
Result<ossl::Ptr<EVP_PKEY>> GenerateP256();

}  // namespace kmra::enclave::internal
