#include "crypto/ec.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <string>

namespace kmra::crypto {
namespace {

const char* GroupName(EcCurve c) { return c == EcCurve::kP256 ? "prime256v1" : "secp384r1"; }

Result<EcCurve> CurveOfPkey(EVP_PKEY* pkey) {
  KMRA_TRY(internal::RequireType(pkey, KeyType::kEc, "EC curve lookup"));
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1) {
    return ossl::Fail(Code::kInvalidArgument, "EC key has no named curve");
  }
  std::string_view n(name, len);
  if (n == "prime256v1" || n == "P-256" || n == "secp256r1") return EcCurve::kP256;
  if (n == "secp384r1" || n == "P-384") return EcCurve::kP384;
  return InvalidArgument("EC key is on curve " + std::string(n) +
                         "; only P-256 and P-384 are "
                         "supported");
}

// A key object holding only the curve's group, built once per curve and never freed. Duplicating
// it copies the group with its precomputed Montgomery constants; building a key from the group's
// name instead recomputes them (about three quarters of the cost of a key object).
EVP_PKEY* CurveOnly(EcCurve curve) {
  auto make = [](EcCurve c) -> EVP_PKEY* {
    char* name = const_cast<char*>(GroupName(c));  // OSSL_PARAM's type; it is only read
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, name, 0),
                           OSSL_PARAM_construct_end()};
    auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
      ERR_clear_error();
      return nullptr;
    }
    return raw;
  };
  static EVP_PKEY* const p256 = make(EcCurve::kP256);
  static EVP_PKEY* const p384 = make(EcCurve::kP384);
  return curve == EcCurve::kP256 ? p256 : p384;
}

}  // namespace

std::string_view EcCurveName(EcCurve curve) { return curve == EcCurve::kP256 ? "P-256" : "P-384"; }

size_t EcCoordinateSize(EcCurve curve) { return curve == EcCurve::kP256 ? 32 : 48; }

Result<EcCurve> ParseEcCurve(std::string_view name) {
  std::string n;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    n.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  }
  if (n == "p256" || n == "prime256v1" || n == "secp256r1") return EcCurve::kP256;
  if (n == "p384" || n == "secp384r1") return EcCurve::kP384;
  return InvalidArgument("unknown EC curve '" + std::string(name) + "'; expected P-256 or P-384");
}

Result<PrivateKey> GenerateEcKey(EcCurve curve) {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", GroupName(curve));
  if (raw == nullptr) {
    return ossl::Fail(Code::kInternal,
                      "cannot generate an EC " + std::string(EcCurveName(curve)) + " key");
  }
  return PrivateKey::Adopt(ossl::Ptr<EVP_PKEY>(raw));
}

Result<EcCurve> EcCurveOf(const PublicKey& key) { return CurveOfPkey(key.get()); }
Result<EcCurve> EcCurveOf(const PrivateKey& key) { return CurveOfPkey(key.get()); }

Result<std::vector<uint8_t>> EcPublicPoint(const PublicKey& key) {
  KMRA_ASSIGN_OR_RETURN(EcCurve curve, EcCurveOf(key));
  std::vector<uint8_t> out(1 + 2 * EcCoordinateSize(curve));
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out.data(),
                                      out.size(), &len) != 1 ||
      len != out.size() || out[0] != 0x04) {
    return ossl::Fail(Code::kInternal, "cannot read the EC public point");
  }
  return out;
}

Result<PublicKey> EcPublicKeyFromPoint(EcCurve curve, std::span<const uint8_t> point) {
  const size_t coord = EcCoordinateSize(curve);
  std::vector<uint8_t> encoded;
  if (point.size() == 2 * coord) {
    encoded.reserve(1 + point.size());
    encoded.push_back(0x04);
    encoded.insert(encoded.end(), point.begin(), point.end());
  } else if (point.size() == 2 * coord + 1 && point[0] == 0x04) {
    encoded.assign(point.begin(), point.end());
  } else {
    return InvalidArgument("EC " + std::string(EcCurveName(curve)) + " public point is " +
                           std::to_string(point.size()) + " bytes; expected " +
                           std::to_string(2 * coord) + " (X||Y) or " +
                           std::to_string(2 * coord + 1) + " (04||X||Y)");
  }
  EVP_PKEY* blank = CurveOnly(curve);
  ossl::Ptr<EVP_PKEY> key(blank != nullptr ? EVP_PKEY_dup(blank) : nullptr);
  if (!key) return ossl::Fail(Code::kInternal, "cannot build an EC key object");
  // OpenSSL decodes the point with EC_POINT_oct2point, which refuses a coordinate that is not
  // below the field prime and a point off the curve; the uncompressed form cannot name the point
  // at infinity. So this is the whole public-key check (cofactor 1: no order multiplication).
  if (EVP_PKEY_set1_encoded_public_key(key.get(), encoded.data(), encoded.size()) != 1) {
    return ossl::Fail(Code::kInvalidArgument, "EC " + std::string(EcCurveName(curve)) +
                                                  " public point is not on the curve");
  }
  return PublicKey::Adopt(std::move(key));
}

}  // namespace kmra::crypto
