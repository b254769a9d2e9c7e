// AES key wrap: RFC 3394 (input a multiple of 8 bytes, at least 16) and with padding RFC 5649 (any
// input of 1 byte or more), as PKCS#11 CKM_AES_KEY_WRAP / CKM_AES_KEY_WRAP_PAD compute them: the
// one implementation, used by the token's C_WrapKey / C_UnwrapKey (the release path's wrapped key).
// The key-encryption key (KEK) is 16, 24 or 32 bytes. `iv` is empty for the default initial value
// (A6A6A6A6A6A6A6A6, RFC 3394 section 2.2.3.1; A65959A6, RFC 5649 section 3) or the caller's own:
// 8 bytes for RFC 3394, 4 for RFC 5649 (the PKCS#11 mechanism parameter). Unwrapping checks the
// integrity value; a wrong KEK or IV or altered data gives Unauthenticated, a bad length
// InvalidArgument. Thread safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::crypto {

Result<std::vector<uint8_t>> AesKeyWrap(std::span<const uint8_t> kek,
                                        std::span<const uint8_t> plaintext,
                                        std::span<const uint8_t> iv = {});
Result<SecretBytes> AesKeyUnwrap(std::span<const uint8_t> kek, std::span<const uint8_t> wrapped,
                                 std::span<const uint8_t> iv = {});

Result<std::vector<uint8_t>> AesKeyWrapPad(std::span<const uint8_t> kek,
                                           std::span<const uint8_t> plaintext,
                                           std::span<const uint8_t> iv = {});
Result<SecretBytes> AesKeyUnwrapPad(std::span<const uint8_t> kek, std::span<const uint8_t> wrapped,
                                    std::span<const uint8_t> iv = {});

}  // namespace kmra::crypto
