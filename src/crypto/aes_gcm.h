// AES-GCM (NIST SP 800-38D) with 96-bit IVs and 128-bit tags, for sealing data at rest.
// Keys are 16 or 32 bytes. Decryption failures (wrong key, altered data, AAD or tag) give
// Unauthenticated and release no plaintext. Thread safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::crypto {

inline constexpr size_t kGcmIvSize = 12;
inline constexpr size_t kGcmTagSize = 16;

// Returns ciphertext || tag. The caller must never reuse an IV with the same key.
Result<std::vector<uint8_t>> AesGcmEncrypt(std::span<const uint8_t> key,
                                           std::span<const uint8_t> iv,
                                           std::span<const uint8_t> plaintext,
                                           std::span<const uint8_t> aad = {});
// Takes ciphertext || tag.
Result<SecretBytes> AesGcmDecrypt(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                  std::span<const uint8_t> ciphertext_and_tag,
                                  std::span<const uint8_t> aad = {});

// Encrypts under a fresh random IV; returns iv || ciphertext || tag.
Result<std::vector<uint8_t>> AesGcmSeal(std::span<const uint8_t> key,
                                        std::span<const uint8_t> plaintext,
                                        std::span<const uint8_t> aad = {});
// Opens the output of AesGcmSeal.
Result<SecretBytes> AesGcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> sealed,
                               std::span<const uint8_t> aad = {});

}  // namespace kmra::crypto
