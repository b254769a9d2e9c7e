// HKDF (RFC 5869): extract-then-expand key derivation, the one implementation every component
// uses (the token store key, the enclave sealing keys). Thread safe.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/hash.h"

namespace kmra::crypto {

// HKDF-`alg`(ikm, salt, info) -> `length` bytes, in wiping memory. An empty salt is the RFC's
// "not provided" (HashLen zero bytes). `length` must be 1..255*HashLen (InvalidArgument
// otherwise); Internal when OpenSSL fails.
Result<SecretBytes> Hkdf(HashAlg alg, std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                         std::span<const uint8_t> info, size_t length);

}  // namespace kmra::crypto
