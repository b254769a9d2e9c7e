// AES-GCM (NIST SP 800-38D): the one implementation, used by the token's CKM_AES_GCM and its sealed
// store, and by the transport-key unwrap. Keys are 16, 24 or 32 bytes; the IV is 12 bytes (the
// recommended length) unless a caller, like PKCS#11's CK_GCM_PARAMS, gives another (1 to 256
// bytes); tags are 16 bytes unless asked shorter (12 to 16 bytes, or 8 or 4, SP 800-38D section
// 5.2.1.2). Decryption failures (wrong key, altered data, AAD or tag) give Unauthenticated and
// release no plaintext. Thread safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::crypto {

inline constexpr size_t kGcmIvSize = 12;
inline constexpr size_t kGcmTagSize = 16;

// Returns ciphertext || tag (tag_size bytes). The caller must never reuse an IV with the same key.
Result<std::vector<uint8_t>> AesGcmEncrypt(std::span<const uint8_t> key,
                                           std::span<const uint8_t> iv,
                                           std::span<const uint8_t> plaintext,
                                           std::span<const uint8_t> aad = {},
                                           size_t tag_size = kGcmTagSize);
// Takes ciphertext || tag (tag_size bytes).
Result<SecretBytes> AesGcmDecrypt(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                  std::span<const uint8_t> ciphertext_and_tag,
                                  std::span<const uint8_t> aad = {}, size_t tag_size = kGcmTagSize);

// Encrypts under a fresh random 12-byte IV; returns iv || ciphertext || tag.
Result<std::vector<uint8_t>> AesGcmSeal(std::span<const uint8_t> key,
                                        std::span<const uint8_t> plaintext,
                                        std::span<const uint8_t> aad = {});
// Opens the output of AesGcmSeal.
Result<SecretBytes> AesGcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> sealed,
                               std::span<const uint8_t> aad = {});

}  // namespace kmra::crypto
