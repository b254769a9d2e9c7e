#include "enclave/internal/hkdf.h"

#include <openssl/kdf.h>

#include "crypto/ossl.h"

namespace kmra::enclave::internal {

Result<SecretBytes> HkdfSha256(const SecretBytes& ikm, std::string_view salt,
                               std::span<const std::uint8_t> info, std::size_t length) {
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), reinterpret_cast<const unsigned char*>(salt.data()),
                                  static_cast<int>(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.Reveal().data(),
                                 static_cast<int>(ikm.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), info.data(), static_cast<int>(info.size())) != 1) {
    return ossl::Fail(Code::kInternal, "cannot set up HKDF-SHA256");
  }
  SecretBytes out(length);
  size_t out_len = length;
  if (EVP_PKEY_derive(ctx.get(), out.RevealMutable().data(), &out_len) != 1 || out_len != length) {
    return ossl::Fail(Code::kInternal, "HKDF-SHA256 derivation failed");
  }
  return out;
}

}  // namespace kmra::enclave::internal
