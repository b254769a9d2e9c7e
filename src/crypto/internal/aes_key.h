// The AES key sizes (FIPS 197): 16, 24 or 32 bytes. Internal to src/crypto.
#pragma once

#include <cstddef>
#include <string>

#include "base/result.h"

namespace kmra::crypto::internal {

// 0, 1 or 2 for an AES-128, AES-192 or AES-256 key of `bytes` bytes; InvalidArgument naming
// `what` ("AES-GCM key") for any other size.
inline Result<int> AesKeyIndex(size_t bytes, const char* what) {
  if (bytes == 16 || bytes == 24 || bytes == 32) return static_cast<int>(bytes / 8 - 2);
  return InvalidArgument(std::string(what) + " is " + std::to_string(bytes) +
                         " bytes; expected 16, 24 or 32");
}

}  // namespace kmra::crypto::internal
