#include "token/wrap.h"

#include "crypto/ossl.h"

namespace kmra::token {
namespace {

const EVP_CIPHER* WrapCipher(size_t key_len, bool pad) {
  switch (key_len) {
    case 16: return pad ? EVP_aes_128_wrap_pad() : EVP_aes_128_wrap();
    case 24: return pad ? EVP_aes_192_wrap_pad() : EVP_aes_192_wrap();
    case 32: return pad ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap();
    default: return nullptr;
  }
}

Result<SecretBytes> Run(const SecretBytes& kek, std::span<const uint8_t> in, bool pad,
                        std::span<const uint8_t> iv, bool encrypt) {
  const EVP_CIPHER* cipher = WrapCipher(kek.size(), pad);
  if (cipher == nullptr) return InvalidArgument("the wrapping key must be a 128, 192 or 256-bit AES key");
  if (!iv.empty() && iv.size() != (pad ? 4u : 8u)) {
    return InvalidArgument("the key wrap IV must be " + std::to_string(pad ? 4 : 8) + " bytes");
  }
  auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  if (!ctx) return ossl::Fail(Code::kInternal, "out of memory");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, kek.Reveal().data(),
                        iv.empty() ? nullptr : iv.data(), encrypt ? 1 : 0) != 1) {
    return ossl::Fail(Code::kInternal, "key wrap setup failed");
  }
  SecretBytes out(in.size() + 16);
  int len = 0, fin = 0;
  if (EVP_CipherUpdate(ctx.get(), out.RevealMutable().data(), &len, in.data(),
                       static_cast<int>(in.size())) != 1 ||
      len < 0 ||
      EVP_CipherFinal_ex(ctx.get(), out.RevealMutable().data() + len, &fin) != 1) {
    ossl::DrainErrors();
    if (encrypt) return InvalidArgument("the key cannot be wrapped with this mechanism (length)");
    return DataLoss("key unwrap failed: wrong unwrapping key or modified wrapped key");
  }
  out.resize(static_cast<size_t>(len + fin));
  return out;
}

}  // namespace

Result<std::vector<uint8_t>> AesKeyWrap(const SecretBytes& kek, std::span<const uint8_t> plain,
                                        bool pad, std::span<const uint8_t> iv) {
  if (!pad && (plain.size() < 16 || plain.size() % 8 != 0)) {
    return InvalidArgument("CKM_AES_KEY_WRAP needs a multiple of 8 bytes, at least 16");
  }
  if (plain.empty()) return InvalidArgument("nothing to wrap");
  KMRA_ASSIGN_OR_RETURN(SecretBytes out, Run(kek, plain, pad, iv, true));
  return std::vector<uint8_t>(out.Reveal().begin(), out.Reveal().end());
}

Result<SecretBytes> AesKeyUnwrap(const SecretBytes& kek, std::span<const uint8_t> wrapped, bool pad,
                                 std::span<const uint8_t> iv) {
  if (wrapped.size() < 16 || wrapped.size() % 8 != 0) {
    return InvalidArgument("wrapped key length must be a multiple of 8, at least 16");
  }
  return Run(kek, wrapped, pad, iv, false);
}

}  // namespace kmra::token
