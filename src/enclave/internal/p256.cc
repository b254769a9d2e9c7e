// The raw SGX forms over the one ECDSA and EC implementation of src/crypto.
#include "enclave/internal/p256.h"

#include <algorithm>

#include "crypto/ec.h"
#include "crypto/ecdsa.h"

namespace kmra::enclave::internal {
namespace {

// A second reference to `key` in the crypto layer's types.
template <class Key>
Key Share(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return Key::Adopt(ossl::Ptr<EVP_PKEY>(key));
}

}  // namespace

Result<std::array<std::uint8_t, 64>> SignP256Raw(EVP_PKEY* key,
                                                 std::span<const std::uint8_t> data) {
  if (key == nullptr) return InvalidArgument("no P-256 key to sign with");
  const auto shared = Share<crypto::PrivateKey>(key);
  KMRA_ASSIGN_OR_RETURN(crypto::EcCurve curve, crypto::EcCurveOf(shared));
  if (curve != crypto::EcCurve::kP256) {
    return InvalidArgument("the key is not an EC P-256 key (SGX attestation keys are P-256)");
  }
  KMRA_ASSIGN_OR_RETURN(auto sig, crypto::EcdsaSignRaw(shared, crypto::HashAlg::kSha256, data));
  std::array<std::uint8_t, 64> raw{};
  std::copy(sig.begin(), sig.end(), raw.begin());
  return raw;
}

bool VerifyP256Raw(EVP_PKEY* key, std::span<const std::uint8_t> data,
                   std::span<const std::uint8_t, 64> sig) {
  if (key == nullptr) return false;
  return crypto::EcdsaVerifyRaw(Share<crypto::PublicKey>(key), crypto::HashAlg::kSha256, data, sig)
      .has_value();
}

Result<std::array<std::uint8_t, 64>> P256PublicRaw(EVP_PKEY* key) {
  if (key == nullptr) return InvalidArgument("no P-256 key");
  const auto shared = Share<crypto::PublicKey>(key);
  auto curve = crypto::EcCurveOf(shared);
  if (!curve || *curve != crypto::EcCurve::kP256) {
    return InvalidArgument("the key is not an EC P-256 key (SGX attestation keys are P-256)");
  }
  KMRA_ASSIGN_OR_RETURN(auto point, crypto::EcPublicPoint(shared));
  std::array<std::uint8_t, 64> raw{};
  std::copy(point.begin() + 1, point.end(), raw.begin());
  return raw;
}

Result<ossl::Ptr<EVP_PKEY>> GenerateP256() {
  KMRA_ASSIGN_OR_RETURN(auto key, crypto::GenerateEcKey(crypto::EcCurve::kP256));
  EVP_PKEY* pkey = key.get();
  EVP_PKEY_up_ref(pkey);
  return ossl::Ptr<EVP_PKEY>(pkey);
}

}  // namespace kmra::enclave::internal
