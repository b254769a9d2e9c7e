#include "crypto/aes_gcm.h"

#include <string>

#include "crypto/internal/aes_key.h"
#include "crypto/ossl.h"
#include "crypto/random.h"

namespace kmra::crypto {
namespace {

constexpr size_t kMaxIvSize = 256;

Result<const EVP_CIPHER*> Cipher(size_t key_size) {
  // Fetched once per process: the implicit fetch behind EVP_aes_*_gcm() takes a lock each call.
  static EVP_CIPHER* const kCiphers[3] = {EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr),
                                          EVP_CIPHER_fetch(nullptr, "AES-192-GCM", nullptr),
                                          EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr)};
  KMRA_ASSIGN_OR_RETURN(const int index, internal::AesKeyIndex(key_size, "AES-GCM key"));
  if (kCiphers[index] == nullptr) return ossl::Fail(Code::kInternal, "OpenSSL lacks AES-GCM");
  return kCiphers[index];
}

Status CheckSizes(std::span<const uint8_t> iv, size_t tag_size) {
  if (iv.empty() || iv.size() > kMaxIvSize) {
    return InvalidArgument("AES-GCM IV is " + std::to_string(iv.size()) +
                           " bytes; expected 1 to 256 (12 recommended)");
  }
  // SP 800-38D section 5.2.1.2: 128, 120, 112, 104 or 96 bits, or 64 and 32 for some uses.
  if (!(tag_size >= 12 && tag_size <= 16) && tag_size != 8 && tag_size != 4) {
    return InvalidArgument("AES-GCM tag of " + std::to_string(tag_size) +
                           " bytes; expected 12 to 16, 8 or 4");
  }
  return OkStatus();
}

// Starts `ctx` for encryption (enc = 1) or decryption under key and IV, and feeds the AAD.
bool Start(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, int enc, std::span<const uint8_t> key,
           std::span<const uint8_t> iv, std::span<const uint8_t> aad) {
  int len = 0;
  if (iv.size() == kGcmIvSize) {
    if (EVP_CipherInit_ex(ctx, cipher, nullptr, key.data(), iv.data(), enc) != 1) return false;
  } else if (EVP_CipherInit_ex(ctx, cipher, nullptr, nullptr, nullptr, enc) != 1 ||
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()),
                                 nullptr) != 1 ||
             EVP_CipherInit_ex(ctx, nullptr, nullptr, key.data(), iv.data(), enc) != 1) {
    return false;
  }
  return aad.empty() ||
         EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1;
}

// Encrypts into out[0, plaintext.size() + tag_size).
Status EncryptTo(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                 std::span<const uint8_t> plaintext, std::span<const uint8_t> aad, size_t tag_size,
                 uint8_t* out) {
  KMRA_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, Cipher(key.size()));
  KMRA_TRY(CheckSizes(iv, tag_size));
  auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  int len = 0;
  int fin = 0;
  if (!ctx || !Start(ctx.get(), cipher, 1, key, iv, aad) ||
      EVP_EncryptUpdate(ctx.get(), out, &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                          out + plaintext.size()) != 1) {
    return ossl::Fail(Code::kInternal, "AES-GCM encryption failed");
  }
  return OkStatus();
}

}  // namespace

Result<std::vector<uint8_t>> AesGcmEncrypt(std::span<const uint8_t> key,
                                           std::span<const uint8_t> iv,
                                           std::span<const uint8_t> plaintext,
                                           std::span<const uint8_t> aad, size_t tag_size) {
  std::vector<uint8_t> out(plaintext.size() + tag_size);
  KMRA_TRY(EncryptTo(key, iv, plaintext, aad, tag_size, out.data()));
  return out;
}

Result<SecretBytes> AesGcmDecrypt(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                  std::span<const uint8_t> ciphertext_and_tag,
                                  std::span<const uint8_t> aad, size_t tag_size) {
  KMRA_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, Cipher(key.size()));
  KMRA_TRY(CheckSizes(iv, tag_size));
  if (ciphertext_and_tag.size() < tag_size) {
    return InvalidArgument("AES-GCM input is " + std::to_string(ciphertext_and_tag.size()) +
                           " bytes, shorter than its " + std::to_string(tag_size) + "-byte tag");
  }
  const size_t n = ciphertext_and_tag.size() - tag_size;
  auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  SecretBytes out(n);
  int len = 0;
  // The tag is read through a non-const pointer by the ctrl API; copy it.
  uint8_t tag[kGcmTagSize];
  std::copy(ciphertext_and_tag.begin() + static_cast<ptrdiff_t>(n), ciphertext_and_tag.end(), tag);
  if (!ctx || !Start(ctx.get(), cipher, 0, key, iv, aad) ||
      EVP_DecryptUpdate(ctx.get(), out.RevealMutable().data(), &len, ciphertext_and_tag.data(),
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag) != 1) {
    return ossl::Fail(Code::kInternal, "AES-GCM decryption failed");
  }
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.RevealMutable().data() + len, &fin) != 1) {
    ERR_clear_error();
    out.clear();
    return Unauthenticated(
        "AES-GCM authentication failed: wrong key, or the data, AAD or tag was "
        "altered");
  }
  return out;
}

Result<std::vector<uint8_t>> AesGcmSeal(std::span<const uint8_t> key,
                                        std::span<const uint8_t> plaintext,
                                        std::span<const uint8_t> aad) {
  std::vector<uint8_t> out(kGcmIvSize + plaintext.size() + kGcmTagSize);
  const std::span<uint8_t> iv(out.data(), kGcmIvSize);
  KMRA_TRY(RandomBytes(iv));
  KMRA_TRY(EncryptTo(key, iv, plaintext, aad, kGcmTagSize, out.data() + kGcmIvSize));
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
