#include "crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include <memory>
#include <string>

#include "crypto/ossl.h"

namespace kmra::crypto {

Result<SecretBytes> Hkdf(HashAlg alg, std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                         std::span<const uint8_t> info, size_t length) {
  // RFC 5869 section 2.3: L <= 255*HashLen.
  if (length == 0 || length > 255 * HashSize(alg)) {
    return InvalidArgument("HKDF output of " + std::to_string(length) + " bytes asked for; " +
                           std::string(HashName(alg)) + " gives 1 to " +
                           std::to_string(255 * HashSize(alg)));
  }
  // Fetched once per process: an implicit fetch takes the provider store's lock each call.
  static EVP_KDF* const kKdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kKdf == nullptr) return ossl::Fail(Code::kInternal, "OpenSSL lacks HKDF");
  const std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kKdf),
                                                                      EVP_KDF_CTX_free);
  if (!ctx) return ossl::Fail(Code::kInternal, "cannot start HKDF");
  const auto* md = static_cast<const EVP_MD*>(internal::FetchedMd(alg));
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 const_cast<char*>(EVP_MD_get0_name(md)), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  const_cast<uint8_t*>(ikm.data()), ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<uint8_t*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    const_cast<uint8_t*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.RevealMutable().data(), length, params) != 1) {
    return ossl::Fail(Code::kInternal,
                      std::string("HKDF-") + std::string(HashName(alg)) + " derivation failed");
  }
  return out;
}

}  // namespace kmra::crypto
