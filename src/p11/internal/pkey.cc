#include "p11/internal/pkey.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <cstring>

#include "crypto/ec.h"
#include "crypto/key.h"
#include "crypto/rsa.h"

namespace kmra::p11::internal {
namespace {

// DER OIDs (RFC 5480 section 2.1.1.1): prime256v1 1.2.840.10045.3.1.7 and secp384r1 1.3.132.0.34.
const uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const uint8_t kP384Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

// A private bignum parameter as big-endian bytes (padded to `pad` bytes when pad > 0), in wiping
// memory.
Result<SecretBytes> BnParam(const EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return ossl::Fail(Code::kInvalidArgument, fmt::format("the key has no {} component", name));
  }
  auto bn = ossl::Wrap(raw);
  int size = pad > 0 ? pad : BN_num_bytes(bn.get());
  SecretBytes out(static_cast<size_t>(size));
  if (size > 0 && BN_bn2binpad(bn.get(), out.RevealMutable().data(), size) != size) {
    return ossl::Fail(Code::kInternal, fmt::format("cannot encode {}", name));
  }
  return out;
}

Result<std::string> GroupName(const EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1) {
    return ossl::Fail(Code::kInvalidArgument, "the EC key names no curve");
  }
  return std::string(name, len);
}

Result<std::span<const uint8_t>> EcOidForGroup(const std::string& group) {
  if (group == "prime256v1" || group == "P-256") return std::span<const uint8_t>(kP256Oid);
  if (group == "secp384r1" || group == "P-384") return std::span<const uint8_t>(kP384Oid);
  return InvalidArgument(fmt::format("EC curve {} is not supported; use P-256 or P-384", group));
}

// CKA_EC_POINT: DER OCTET STRING of the uncompressed point (PKCS#11 2.40 section 2.3.3).
Result<std::vector<uint8_t>> EcPointDer(const EVP_PKEY* key) {
  uint8_t point[200];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point),
                                      &len) != 1) {
    return ossl::Fail(Code::kInvalidArgument, "cannot read the EC public point");
  }
  auto os = ossl::Wrap(ASN1_OCTET_STRING_new());
  if (!os || ASN1_OCTET_STRING_set(os.get(), point, static_cast<int>(len)) != 1) {
    return ossl::Fail(Code::kInternal, "ASN1_OCTET_STRING_set");
  }
  int der_len = i2d_ASN1_OCTET_STRING(os.get(), nullptr);
  std::vector<uint8_t> der(static_cast<size_t>(der_len));
  uint8_t* p = der.data();
  i2d_ASN1_OCTET_STRING(os.get(), &p);
  return der;
}

}  // namespace

std::string Hex(std::span<const uint8_t> bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

Result<std::vector<uint8_t>> EcParamsForBits(int bits) {
  if (bits == 256) return std::vector<uint8_t>(std::begin(kP256Oid), std::end(kP256Oid));
  if (bits == 384) return std::vector<uint8_t>(std::begin(kP384Oid), std::end(kP384Oid));
  return InvalidArgument(fmt::format("EC keys must be P-256 or P-384, not {} bits", bits));
}

Result<KeyAlgorithm> AlgorithmOf(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return KeyAlgorithm::kRsa;
    case EVP_PKEY_EC:
      return KeyAlgorithm::kEc;
    default:
      return InvalidArgument(fmt::format("key type {} is not supported; use RSA or EC",
                                         OBJ_nid2sn(EVP_PKEY_get_base_id(key))));
  }
}

Status CheckImportable(const EVP_PKEY* key) {
  KMRA_ASSIGN_OR_RETURN(KeyAlgorithm alg, AlgorithmOf(key));
  if (alg == KeyAlgorithm::kEc) {
    KMRA_ASSIGN_OR_RETURN(auto group, GroupName(key));
    KMRA_TRY(EcOidForGroup(group));
    return OkStatus();
  }
  const int bits = EVP_PKEY_get_bits(key);
  if (bits < 2048 || bits > 4096) {
    return InvalidArgument(fmt::format("RSA key has {} bits; 2048 to 4096 are accepted", bits));
  }
  return OkStatus();
}

Result<KeyAlgorithm> AppendPrivateKeyAttrs(const EVP_PKEY* key, Attrs& attrs) {
  KMRA_ASSIGN_OR_RETURN(KeyAlgorithm alg, AlgorithmOf(key));
  if (alg == KeyAlgorithm::kRsa) {
    attrs.Ulong(CKA_KEY_TYPE, CKK_RSA);
    // PKCS#11 2.40 section 2.1.3: modulus, exponents and the CRT values.
    const std::pair<CK_ATTRIBUTE_TYPE, const char*> kParts[] = {
        {CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N},
        {CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E},
        {CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D},
        {CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1},
        {CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2},
        {CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1},
        {CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2},
        {CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
    for (const auto& [type, name] : kParts) {
      KMRA_ASSIGN_OR_RETURN(auto value, BnParam(key, name));
      attrs.Secret(type, value.Reveal());
    }
    return alg;
  }
  attrs.Ulong(CKA_KEY_TYPE, CKK_EC);
  KMRA_ASSIGN_OR_RETURN(auto group, GroupName(key));
  KMRA_ASSIGN_OR_RETURN(auto oid, EcOidForGroup(group));
  attrs.Bytes(CKA_EC_PARAMS, oid);
  KMRA_ASSIGN_OR_RETURN(auto scalar,
                        BnParam(key, OSSL_PKEY_PARAM_PRIV_KEY, (EVP_PKEY_get_bits(key) + 7) / 8));
  attrs.Secret(CKA_VALUE, scalar.Reveal());
  return alg;
}

Status AppendPublicKeyAttrs(const EVP_PKEY* key, Attrs& attrs) {
  KMRA_ASSIGN_OR_RETURN(KeyAlgorithm alg, AlgorithmOf(key));
  if (alg == KeyAlgorithm::kRsa) {
    attrs.Ulong(CKA_KEY_TYPE, CKK_RSA);
    KMRA_ASSIGN_OR_RETURN(auto n, BnParam(key, OSSL_PKEY_PARAM_RSA_N));
    KMRA_ASSIGN_OR_RETURN(auto e, BnParam(key, OSSL_PKEY_PARAM_RSA_E));
    attrs.Bytes(CKA_MODULUS, n.Reveal()).Bytes(CKA_PUBLIC_EXPONENT, e.Reveal());
    return OkStatus();
  }
  attrs.Ulong(CKA_KEY_TYPE, CKK_EC);
  KMRA_ASSIGN_OR_RETURN(auto group, GroupName(key));
  KMRA_ASSIGN_OR_RETURN(auto oid, EcOidForGroup(group));
  KMRA_ASSIGN_OR_RETURN(auto point, EcPointDer(key));
  attrs.Bytes(CKA_EC_PARAMS, oid).Bytes(CKA_EC_POINT, point);
  return OkStatus();
}

namespace {

// The EVP_PKEY of a crypto::PublicKey, as a reference of its own.
ossl::Ptr<EVP_PKEY> Shared(const crypto::PublicKey& key) {
  EVP_PKEY_up_ref(key.get());
  return ossl::Ptr<EVP_PKEY>(key.get());
}

}  // namespace

Result<ossl::Ptr<EVP_PKEY>> RsaPublicFromComponents(std::span<const uint8_t> modulus,
                                                    std::span<const uint8_t> exponent) {
  KMRA_ASSIGN_OR_RETURN(auto key, crypto::RsaPublicKeyFromNumbers(modulus, exponent));
  return Shared(key);
}

Result<ossl::Ptr<EVP_PKEY>> EcPublicFromAttributes(std::span<const uint8_t> ec_params,
                                                   std::span<const uint8_t> point) {
  crypto::EcCurve curve;
  if (ec_params.size() == sizeof(kP256Oid) &&
      std::memcmp(ec_params.data(), kP256Oid, sizeof(kP256Oid)) == 0) {
    curve = crypto::EcCurve::kP256;
  } else if (ec_params.size() == sizeof(kP384Oid) &&
             std::memcmp(ec_params.data(), kP384Oid, sizeof(kP384Oid)) == 0) {
    curve = crypto::EcCurve::kP384;
  } else {
    return InvalidArgument("CKA_EC_PARAMS names a curve other than P-256 or P-384");
  }
  // CKA_EC_POINT is a DER OCTET STRING around the X9.62 point; a bare point is accepted too.
  std::span<const uint8_t> raw_point = point;
  const uint8_t* p = point.data();
  auto os = ossl::Wrap(d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(point.size())));
  if (os && p == point.data() + point.size()) {
    raw_point = std::span<const uint8_t>(ASN1_STRING_get0_data(os.get()),
                                         static_cast<size_t>(ASN1_STRING_length(os.get())));
  }
  ERR_clear_error();
  KMRA_ASSIGN_OR_RETURN(auto key, crypto::EcPublicKeyFromPoint(curve, raw_point));
  return Shared(key);
}

Result<std::vector<uint8_t>> SpkiDer(const EVP_PKEY* key) {
  EVP_PKEY_up_ref(const_cast<EVP_PKEY*>(key));
  return crypto::PublicKey::Adopt(ossl::Ptr<EVP_PKEY>(const_cast<EVP_PKEY*>(key))).ToSpkiDer();
}

Result<ossl::Ptr<EVP_PKEY>> ParseSpki(std::span<const uint8_t> der) {
  KMRA_ASSIGN_OR_RETURN(auto key, crypto::PublicKey::FromSpkiDer(der));
  return Shared(key);
}

}  // namespace kmra::p11::internal
