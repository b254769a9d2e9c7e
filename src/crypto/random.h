// Cryptographically secure random bytes from OpenSSL's DRBG (seeded by the kernel). Thread safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::crypto {

// Fills `out`. Fails (Unavailable) only if the DRBG cannot be seeded.
Status RandomBytes(std::span<uint8_t> out);

// `n` random bytes, for public values such as nonces and serial numbers.
Result<std::vector<uint8_t>> RandomBytes(size_t n);

// `n` random bytes in wiping memory, for keys.
Result<SecretBytes> RandomSecret(size_t n);

}  // namespace kmra::crypto
