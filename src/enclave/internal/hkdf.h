// HKDF-SHA256 (RFC 5869) for deriving sealing keys.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::enclave::internal {

// HKDF-SHA256(ikm, salt, info) -> `length` bytes.
Result<SecretBytes> HkdfSha256(const SecretBytes& ikm, std::string_view salt,
                               std::span<const std::uint8_t> info, std::size_t length);

}  // namespace kmra::enclave::internal
