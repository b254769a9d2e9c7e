#include "enclave/internal/p256.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>

#include <string>
#include <vector>

namespace kmra::enclave::internal {

Result<std::array<std::uint8_t, 64>> SignP256Raw(EVP_PKEY* key,
                                                 std::span<const std::uint8_t> data) {
  auto ctx = ossl::Wrap(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start an ECDSA-P256 signature");
  }
  size_t der_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &der_len, data.data(), data.size()) != 1) {
    return ossl::Fail(Code::kInternal, "cannot size the ECDSA-P256 signature");
  }
  std::vector<unsigned char> der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len, data.data(), data.size()) != 1) {
    return ossl::Fail(Code::kInternal, "ECDSA-P256 signing failed");
  }
  const unsigned char* p = der.data();
  auto sig = ossl::Wrap(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) return ossl::Fail(Code::kInternal, "cannot decode our own ECDSA signature");
  std::array<std::uint8_t, 64> raw{};
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32) != 32) {
    return ossl::Fail(Code::kInternal, "ECDSA signature values do not fit 32 bytes");
  }
  return raw;
}

bool VerifyP256Raw(EVP_PKEY* key, std::span<const std::uint8_t> data,
                   std::span<const std::uint8_t, 64> raw) {
  auto sig = ossl::Wrap(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return false;
  auto ctx = ossl::Wrap(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_len), data.data(),
                             data.size()) == 1;
  OPENSSL_free(der);
  ERR_clear_error();
  return ok;
}

Result<std::array<std::uint8_t, 64>> P256PublicRaw(EVP_PKEY* key) {
  char curve[32] = {};
  size_t curve_len = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
                                     &curve_len) != 1 ||
      std::string(curve) != "prime256v1") {
    ERR_clear_error();
    return InvalidArgument("the key is not an EC P-256 key (SGX attestation keys are P-256)");
  }
  unsigned char point[65];
  size_t point_len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                      &point_len) != 1) {
    return ossl::Fail(Code::kInternal, "cannot read the P-256 public point");
  }
  if (point_len != 65 || point[0] != 0x04) {
    // Compressed form: re-encode uncompressed.
    return InvalidArgument("the P-256 public key is stored compressed; expected 65 bytes 04||x||y");
  }
  std::array<std::uint8_t, 64> raw{};
  std::copy(point + 1, point + 65, raw.begin());
  return raw;
}

Result<ossl::Ptr<EVP_PKEY>> GenerateP256() {
  auto key = ossl::Wrap(EVP_EC_gen("P-256"));
  if (!key) return ossl::Fail(Code::kInternal, "cannot generate a P-256 key");
  return key;
}

}  // namespace kmra::enclave::internal
