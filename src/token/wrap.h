// AES key wrapping for C_WrapKey / C_UnwrapKey: CKM_AES_KEY_WRAP (RFC 3394) and
// CKM_AES_KEY_WRAP_PAD (RFC 5649), with the default IVs unless the mechanism gives one.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::token {

// Wraps `plain` under the AES key `kek` (16, 24 or 32 bytes). `pad` selects RFC 5649.
// `iv` is empty (default IV) or 8 (RFC 3394) / 4 (RFC 5649) bytes.
Result<std::vector<uint8_t>> AesKeyWrap(const SecretBytes& kek, std::span<const uint8_t> plain,
                                        bool pad, std::span<const uint8_t> iv);

// Unwraps; an integrity failure is a DataLoss error (wrong key or modified input).
Result<SecretBytes> AesKeyUnwrap(const SecretBytes& kek, std::span<const uint8_t> wrapped, bool pad,
                                 std::span<const uint8_t> iv);

}  // namespace kmra::token
