// AES key wrap: RFC 3394 (input a multiple of 8 bytes, at least 16) and with padding RFC 5649 (any
// input of 1 byte or more), as PKCS#11 CKM_AES_KEY_WRAP / CKM_AES_KEY_WRAP_PAD compute them.
// The key-encryption key (KEK) is 16, 24 or 32 bytes. Unwrapping checks the integrity value; a
// wrong KEK or altered data gives Unauthenticated. Thread safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::crypto {

Result<std::vector<uint8_t>> AesKeyWrap(std::span<const uint8_t> kek,
                                        std::span<const uint8_t> plaintext);
Result<SecretBytes> AesKeyUnwrap(std::span<const uint8_t> kek, std::span<const uint8_t> wrapped);

Result<std::vector<uint8_t>> AesKeyWrapPad(std::span<const uint8_t> kek,
                                           std::span<const uint8_t> plaintext);
Result<SecretBytes> AesKeyUnwrapPad(std::span<const uint8_t> kek,
                                    std::span<const uint8_t> wrapped);

}  // namespace kmra::crypto
