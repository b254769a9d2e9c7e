#include "crypto/aes_gcm.h"

#include <string>

#include "crypto/ossl.h"
#include "crypto/random.h"

namespace kmra::crypto {
namespace {

Result<const EVP_CIPHER*> Cipher(size_t key_size) {
  static EVP_CIPHER* const k128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static EVP_CIPHER* const k256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  const EVP_CIPHER* c = nullptr;
  if (key_size == 16) {
    c = k128;
  } else if (key_size == 32) {
    c = k256;
  } else {
    return InvalidArgument("AES-GCM key is " + std::to_string(key_size) +
                           " bytes; expected 16 or 32");
  }
  if (c == nullptr) return ossl::Fail(Code::kInternal, "OpenSSL lacks AES-GCM");
  return c;
}

Status CheckIv(std::span<const uint8_t> iv) {
  if (iv.size() != kGcmIvSize) {
    return InvalidArgument("AES-GCM IV is " + std::to_string(iv.size()) + " bytes; expected 12");
  }
  return OkStatus();
}

}  // namespace

Result<std::vector<uint8_t>> AesGcmEncrypt(std::span<const uint8_t> key,
                                           std::span<const uint8_t> iv,
                                           std::span<const uint8_t> plaintext,
                                           std::span<const uint8_t> aad) {
  KMRA_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, Cipher(key.size()));
  KMRA_TRY(CheckIv(iv));
  auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  std::vector<uint8_t> out(plaintext.size() + kGcmTagSize);
  int len = 0;
  int fin = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv.data()) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize,
                          out.data() + plaintext.size()) != 1) {
    return ossl::Fail(Code::kInternal, "AES-GCM encryption failed");
  }
  return out;
}

Result<SecretBytes> AesGcmDecrypt(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                  std::span<const uint8_t> ciphertext_and_tag,
                                  std::span<const uint8_t> aad) {
  KMRA_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, Cipher(key.size()));
  KMRA_TRY(CheckIv(iv));
  if (ciphertext_and_tag.size() < kGcmTagSize) {
    return InvalidArgument("AES-GCM input is " + std::to_string(ciphertext_and_tag.size()) +
                           " bytes, shorter than its 16-byte tag");
  }
  const size_t n = ciphertext_and_tag.size() - kGcmTagSize;
  auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  SecretBytes out(n);
  int len = 0;
  // The tag is read through a non-const pointer by the ctrl API; copy it.
  uint8_t tag[kGcmTagSize];
  std::copy(ciphertext_and_tag.begin() + static_cast<ptrdiff_t>(n), ciphertext_and_tag.end(), tag);
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv.data()) != 1 ||
      (!aad.empty() &&
       EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), out.RevealMutable().data(), &len, ciphertext_and_tag.data(),
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize, tag) != 1) {
    return ossl::Fail(Code::kInternal, "AES-GCM decryption failed");
  }
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.RevealMutable().data() + len, &fin) != 1) {
    ERR_clear_error();
    out.clear();
    return Unauthenticated("AES-GCM authentication failed: wrong key, or the data, AAD or tag was "
                           "altered");
  }
  return out;
}

Result<std::vector<uint8_t>> AesGcmSeal(std::span<const uint8_t> key,
                                        std::span<const uint8_t> plaintext,
                                        std::span<const uint8_t> aad) {
  uint8_t iv[kGcmIvSize];
  KMRA_TRY(RandomBytes(std::span<uint8_t>(iv)));
  KMRA_ASSIGN_OR_RETURN(auto ct, AesGcmEncrypt(key, iv, plaintext, aad));
  std::vector<uint8_t> out(iv, iv + kGcmIvSize);
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

Result<SecretBytes> AesGcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> sealed,
                               std::span<const uint8_t> aad) {
  if (sealed.size() < kGcmIvSize + kGcmTagSize) {
    return InvalidArgument("sealed AES-GCM data is " + std::to_string(sealed.size()) +
                           " bytes; it needs at least 28 (IV and tag)");
  }
  return AesGcmDecrypt(key, sealed.first(kGcmIvSize), sealed.subspan(kGcmIvSize), aad);
}

}  // namespace kmra::crypto
