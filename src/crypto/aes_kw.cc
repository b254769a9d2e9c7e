#include "crypto/aes_kw.h"

#include <string>

#include "crypto/internal/aes_key.h"
#include "crypto/ossl.h"

namespace kmra::crypto {
namespace {

Result<const EVP_CIPHER*> Cipher(size_t kek_size, bool pad) {
  // Fetched once per process: the implicit fetch behind EVP_aes_*_wrap() takes a lock each call.
  static EVP_CIPHER* const kCiphers[2][3] = {
      {EVP_CIPHER_fetch(nullptr, "AES-128-WRAP", nullptr),
       EVP_CIPHER_fetch(nullptr, "AES-192-WRAP", nullptr),
       EVP_CIPHER_fetch(nullptr, "AES-256-WRAP", nullptr)},
      {EVP_CIPHER_fetch(nullptr, "AES-128-WRAP-PAD", nullptr),
       EVP_CIPHER_fetch(nullptr, "AES-192-WRAP-PAD", nullptr),
       EVP_CIPHER_fetch(nullptr, "AES-256-WRAP-PAD", nullptr)}};
  KMRA_ASSIGN_OR_RETURN(const int index, internal::AesKeyIndex(kek_size, "AES key-wrap KEK"));
  const EVP_CIPHER* c = kCiphers[pad ? 1 : 0][index];
  if (c == nullptr) return ossl::Fail(Code::kInternal, "OpenSSL lacks AES key wrap");
  return c;
}

// One pass of the wrap cipher; `out` is sized by the caller (input + 8 for wrap, rounded for pad).
template <class Out>
Result<Out> Run(std::span<const uint8_t> kek, std::span<const uint8_t> in, bool pad, bool wrap,
                size_t out_capacity, std::span<const uint8_t> iv) {
  KMRA_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, Cipher(kek.size(), pad));
  const size_t iv_size = pad ? 4 : 8;
  if (!iv.empty() && iv.size() != iv_size) {
    return InvalidArgument(
        std::string(pad ? "AES key wrap with padding (RFC 5649)" : "AES key wrap (RFC 3394)") +
        " takes an IV of " + std::to_string(iv_size) + " bytes, not " + std::to_string(iv.size()));
  }
  auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, kek.data(),
                                iv.empty() ? nullptr : iv.data(), wrap ? 1 : 0) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start AES key wrap");
  }
  Out out(out_capacity);
  int len = 0;
  uint8_t* dst = reinterpret_cast<uint8_t*>(out.data());
  if (EVP_CipherUpdate(ctx.get(), dst, &len, in.data(), static_cast<int>(in.size())) != 1) {
    if (!wrap) {
      ERR_clear_error();
      return Unauthenticated(
          std::string(pad ? "AES key unwrap with padding (RFC 5649)"
                          : "AES key unwrap (RFC 3394)") +
          " failed its integrity check: wrong KEK or IV, or altered wrapped data");
    }
    return ossl::Fail(Code::kInternal, "AES key wrap failed");
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), dst + len, &final_len) != 1) {
    return ossl::Fail(Code::kInternal, "AES key wrap failed to finish");
  }
  out.resize(static_cast<size_t>(len) + static_cast<size_t>(final_len));
  return out;
}

// SecretBytes lacks data(); this adapter gives Run a uniform container.
struct SecretOut {
  explicit SecretOut(size_t n) : s(n) {}
  uint8_t* data() { return s.RevealMutable().data(); }
  void resize(size_t n) { s.resize(n); }
  SecretBytes s;
};

}  // namespace

Result<std::vector<uint8_t>> AesKeyWrap(std::span<const uint8_t> kek,
                                        std::span<const uint8_t> plaintext,
                                        std::span<const uint8_t> iv) {
  if (plaintext.size() < 16 || plaintext.size() % 8 != 0) {
    return InvalidArgument("AES key wrap (RFC 3394) input is " + std::to_string(plaintext.size()) +
                           " bytes; it must be a multiple of 8 and at least 16 (use the padded "
                           "variant, RFC 5649, for other lengths)");
  }
  return Run<std::vector<uint8_t>>(kek, plaintext, false, true, plaintext.size() + 8, iv);
}

Result<SecretBytes> AesKeyUnwrap(std::span<const uint8_t> kek, std::span<const uint8_t> wrapped,
                                 std::span<const uint8_t> iv) {
  if (wrapped.size() < 24 || wrapped.size() % 8 != 0) {
    return InvalidArgument("AES-wrapped data (RFC 3394) is " + std::to_string(wrapped.size()) +
                           " bytes; it must be a multiple of 8 and at least 24");
  }
  KMRA_ASSIGN_OR_RETURN(SecretOut out,
                        Run<SecretOut>(kek, wrapped, false, false, wrapped.size(), iv));
  return std::move(out.s);
}

Result<std::vector<uint8_t>> AesKeyWrapPad(std::span<const uint8_t> kek,
                                           std::span<const uint8_t> plaintext,
                                           std::span<const uint8_t> iv) {
  if (plaintext.empty()) return InvalidArgument("AES key wrap with padding needs at least 1 byte");
  size_t padded = (plaintext.size() + 7) / 8 * 8;
  return Run<std::vector<uint8_t>>(kek, plaintext, true, true, padded + 8, iv);
}

Result<SecretBytes> AesKeyUnwrapPad(std::span<const uint8_t> kek, std::span<const uint8_t> wrapped,
                                    std::span<const uint8_t> iv) {
  if (wrapped.size() < 16 || wrapped.size() % 8 != 0) {
    return InvalidArgument("AES-wrapped data with padding (RFC 5649) is " +
                           std::to_string(wrapped.size()) +
                           " bytes; it must be a multiple of 8 and at least 16");
  }
  KMRA_ASSIGN_OR_RETURN(SecretOut out,
                        Run<SecretOut>(kek, wrapped, true, false, wrapped.size(), iv));
  return std::move(out.s);
}

}  // namespace kmra::crypto
