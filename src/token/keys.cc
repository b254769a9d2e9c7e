#include "token/keys.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace kmra::token {
namespace {

const std::vector<Curve>& Curves() {
  static const std::vector<Curve> kCurves = {
      {"P-256", "prime256v1", {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 32},
      {"P-384", "secp384r1", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 48},
  };
  return kCurves;
}

// Secure BIGNUMs: OSSL_PARAM_BLD copies them into a block that OSSL_PARAM_free cleanses, so key
// components taken from a template leave no copy in freed memory.
ossl::Ptr<BIGNUM> Bn(std::span<const uint8_t> be) {
  auto bn = ossl::Wrap(BN_secure_new());
  if (!bn || BN_bin2bn(be.data(), static_cast<int>(be.size()), bn.get()) == nullptr) return nullptr;
  return bn;
}

std::vector<uint8_t> DerOctetString(std::span<const uint8_t> v) {
  // Tag and length first, then the contents into a vector sized once for both.
  std::array<uint8_t, 4> head = {0x04};
  size_t head_len = 2;
  if (v.size() < 128) {
    head[1] = static_cast<uint8_t>(v.size());
  } else if (v.size() < 256) {
    head[1] = 0x81;
    head[2] = static_cast<uint8_t>(v.size());
    head_len = 3;
  } else {
    head[1] = 0x82;
    head[2] = static_cast<uint8_t>(v.size() >> 8);
    head[3] = static_cast<uint8_t>(v.size());
    head_len = 4;
  }
  std::vector<uint8_t> out(head_len + v.size());
  std::copy_n(head.begin(), head_len, out.begin());
  std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(head_len));
  return out;
}

// CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (PKCS#11 2.40 §2.3.3); some
// writers store the raw point. Accept both.
std::vector<uint8_t> UnwrapEcPoint(std::span<const uint8_t> v, size_t field_bytes) {
  const size_t raw = 1 + 2 * field_bytes;
  if (v.size() == raw && v[0] == 0x04) return {v.begin(), v.end()};
  if (v.size() >= 2 && v[0] == 0x04) {
    size_t hdr = 2, len = v[1];
    if (v[1] == 0x81 && v.size() >= 3) hdr = 3, len = v[2];
    if (hdr + len == v.size()) {
      const auto point = v.subspan(hdr);
      return {point.begin(), point.end()};
    }
  }
  return {};
}

Result<ossl::Ptr<EVP_PKEY>> FromParams(const char* alg, int selection, OSSL_PARAM_BLD* bld) {
  auto params = ossl::Wrap(OSSL_PARAM_BLD_to_param(bld));
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_name(nullptr, alg, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return ossl::Fail(Code::kInvalidArgument, std::string("cannot build the ") + alg + " key");
  }
  return ossl::Wrap(raw);
}

}  // namespace

Result<Curve> CurveFromParams(std::span<const uint8_t> ec_params) {
  for (const auto& c : Curves()) {
    if (ec_params.size() == c.params.size() &&
        std::memcmp(ec_params.data(), c.params.data(), c.params.size()) == 0) {
      return c;
    }
  }
  // PrintableString curve names (PKCS#11 allows them; OpenSC writes them for some tokens).
  if (ec_params.size() > 2 && ec_params[0] == 0x13 && ec_params[1] == ec_params.size() - 2) {
    std::string name(ec_params.begin() + 2, ec_params.end());
    for (const auto& c : Curves()) {
      if (name == c.group || name == c.name || (name == "secp256r1" && c.field_bytes == 32)) return c;
    }
  }
  return InvalidArgument("CKA_EC_PARAMS names an unsupported curve (supported: P-256, P-384)");
}

Result<Curve> CurveFromGroup(const std::string& group) {
  for (const auto& c : Curves()) {
    if (group == c.group || group == c.name) return c;
  }
  return InvalidArgument("unsupported EC group '" + group + "' (supported: P-256, P-384)");
}

Result<ossl::Ptr<EVP_PKEY>> GenerateRsa(CK_ULONG bits, std::span<const uint8_t> exponent) {
  if (bits < 2048 || bits > 4096) {
    return InvalidArgument("RSA modulus of " + std::to_string(bits) +
                           " bits is out of range (2048..4096)");
  }
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) != 1) {
    return ossl::Fail(Code::kInternal, "RSA key generation setup failed");
  }
  if (!exponent.empty()) {
    auto e = Bn(exponent);
    if (!e || BN_is_odd(e.get()) == 0 || BN_num_bits(e.get()) < 2 || BN_num_bits(e.get()) > 64) {
      return InvalidArgument("CKA_PUBLIC_EXPONENT must be an odd number of at most 64 bits");
    }
    if (EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1) {
      return ossl::Fail(Code::kInvalidArgument, "public exponent refused");
    }
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return ossl::Fail(Code::kInternal, "RSA key generation failed");
  }
  return ossl::Wrap(raw);
}

Result<ossl::Ptr<EVP_PKEY>> GenerateEc(std::span<const uint8_t> ec_params) {
  KMRA_ASSIGN_OR_RETURN(Curve curve, CurveFromParams(ec_params));
  EVP_PKEY* raw = EVP_EC_gen(curve.group);
  if (raw == nullptr) return ossl::Fail(Code::kInternal, "EC key generation failed");
  return ossl::Wrap(raw);
}

Result<SecretBytes> ToPkcs8(EVP_PKEY* pkey) {
  auto p8 = ossl::Wrap(EVP_PKEY2PKCS8(pkey));
  if (!p8) return ossl::Fail(Code::kInternal, "cannot encode the key as PKCS#8");
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  if (len <= 0) return ossl::Fail(Code::kInternal, "cannot encode the key as PKCS#8");
  SecretBytes out(static_cast<size_t>(len));
  unsigned char* p = out.RevealMutable().data();
  if (i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &p) != len) {
    return ossl::Fail(Code::kInternal, "cannot encode the key as PKCS#8");
  }
  return out;
}

Result<ossl::Ptr<EVP_PKEY>> FromPkcs8(std::span<const uint8_t> der) {
  ERR_clear_error();  // report only what this parse says, not older errors of the process
  const unsigned char* p = der.data();
  auto p8 = ossl::Wrap(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (!p8) return ossl::Fail(Code::kInvalidArgument, "not a DER PKCS#8 PrivateKeyInfo");
  // SoftHSM2 2.6.1 unwraps its own CKM_AES_KEY_WRAP_PAD output with trailing zero bytes (it
  // wraps a zero-padded PKCS#8 for EC keys); zeros after the DER are tolerated, nothing else.
  for (const unsigned char* q = p; q != der.data() + der.size(); ++q) {
    if (*q != 0) return InvalidArgument("bytes follow the PKCS#8 PrivateKeyInfo");
  }
  auto pkey = ossl::Wrap(EVP_PKCS82PKEY(p8.get()));
  if (!pkey) return ossl::Fail(Code::kInvalidArgument, "PKCS#8 key cannot be decoded");
  if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
    int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < 1024 || bits > 8192) return InvalidArgument("RSA key size out of range");
  } else if (EVP_PKEY_is_a(pkey.get(), "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1) {
      return InvalidArgument("EC key without a named curve");
    }
    KMRA_TRY(CurveFromGroup(group));
  } else {
    return InvalidArgument("PKCS#8 key is neither RSA nor EC");
  }
  return pkey;
}

std::vector<uint8_t> RsaParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return {};
  auto owned = ossl::Wrap(bn);
  std::vector<uint8_t> out(static_cast<size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, out.data());
  return out;
}

int KeyBits(EVP_PKEY* pkey) { return EVP_PKEY_get_bits(pkey); }

Status SetPublicAttributes(EVP_PKEY* pkey, Object& o) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    auto n = RsaParam(pkey, OSSL_PKEY_PARAM_RSA_N);
    auto e = RsaParam(pkey, OSSL_PKEY_PARAM_RSA_E);
    if (n.empty() || e.empty()) return ossl::Fail(Code::kInternal, "RSA key without n or e");
    o.SetBytes(CKA_MODULUS, n);
    o.SetBytes(CKA_PUBLIC_EXPONENT, e);
    if (o.Class() == CKO_PUBLIC_KEY) o.SetUlong(CKA_MODULUS_BITS, KeyBits(pkey));
    return OkStatus();
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1) {
      return InvalidArgument("EC key without a named curve");
    }
    KMRA_ASSIGN_OR_RETURN(Curve curve, CurveFromGroup(group));
    uint8_t point[1 + 2 * 66];
    size_t point_len = 0;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                        &point_len) != 1) {
      return ossl::Fail(Code::kInternal, "EC key without a public point");
    }
    o.SetBytes(CKA_EC_PARAMS, curve.params);
    o.SetBytes(CKA_EC_POINT, DerOctetString({point, point_len}));
    return OkStatus();
  }
  return InvalidArgument("unsupported key algorithm");
}

Result<ossl::Ptr<EVP_PKEY>> PrivateKeyFromComponents(CK_KEY_TYPE type, const AttrMap& secret_parts,
                                                     const AttrMap& attrs) {
  auto find = [&](CK_ATTRIBUTE_TYPE t) -> const std::vector<uint8_t>* {
    auto it = secret_parts.find(t);
    if (it != secret_parts.end()) return &it->second;
    auto jt = attrs.find(t);
    return jt == attrs.end() ? nullptr : &jt->second;
  };
  auto bld = ossl::Wrap(OSSL_PARAM_BLD_new());
  std::vector<ossl::Ptr<BIGNUM>> keep;
  auto push = [&](const char* name, CK_ATTRIBUTE_TYPE t, bool required) -> Status {
    const auto* v = find(t);
    if (v == nullptr || v->empty()) {
      if (required) return InvalidArgument("the template lacks a required key component");
      return OkStatus();
    }
    keep.push_back(Bn(*v));
    if (!keep.back() || OSSL_PARAM_BLD_push_BN(bld.get(), name, keep.back().get()) != 1) {
      return ossl::Fail(Code::kInternal, "cannot build key parameters");
    }
    return OkStatus();
  };
  if (type == CKK_RSA) {
    KMRA_TRY(push(OSSL_PKEY_PARAM_RSA_N, CKA_MODULUS, true));
    KMRA_TRY(push(OSSL_PKEY_PARAM_RSA_E, CKA_PUBLIC_EXPONENT, true));
    KMRA_TRY(push(OSSL_PKEY_PARAM_RSA_D, CKA_PRIVATE_EXPONENT, true));
    const bool crt = find(CKA_PRIME_1) != nullptr;
    KMRA_TRY(push(OSSL_PKEY_PARAM_RSA_FACTOR1, CKA_PRIME_1, crt));
    KMRA_TRY(push(OSSL_PKEY_PARAM_RSA_FACTOR2, CKA_PRIME_2, crt));
    KMRA_TRY(push(OSSL_PKEY_PARAM_RSA_EXPONENT1, CKA_EXPONENT_1, crt));
    KMRA_TRY(push(OSSL_PKEY_PARAM_RSA_EXPONENT2, CKA_EXPONENT_2, crt));
    KMRA_TRY(push(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, CKA_COEFFICIENT, crt));
    return FromParams("RSA", EVP_PKEY_KEYPAIR, bld.get());
  }
  if (type == CKK_EC) {
    const auto* params = find(CKA_EC_PARAMS);
    const auto* value = find(CKA_VALUE);
    if (params == nullptr || value == nullptr) {
      return InvalidArgument("an EC private key needs CKA_EC_PARAMS and CKA_VALUE");
    }
    KMRA_ASSIGN_OR_RETURN(Curve curve, CurveFromParams(*params));
    auto group = ossl::Wrap(EC_GROUP_new_by_curve_name(OBJ_sn2nid(curve.group)));
    auto priv = Bn(*value);
    if (!group || !priv) return ossl::Fail(Code::kInternal, "cannot build the EC key");
    auto pub = ossl::Wrap(EC_POINT_new(group.get()));
    uint8_t point[1 + 2 * 66];
    size_t len = 0;
    if (!pub || EC_POINT_mul(group.get(), pub.get(), priv.get(), nullptr, nullptr, nullptr) != 1 ||
        (len = EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, point,
                                  sizeof point, nullptr)) == 0) {
      return ossl::Fail(Code::kInvalidArgument, "EC private value is not valid for the curve");
    }
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.group, 0) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, len) != 1) {
      return ossl::Fail(Code::kInternal, "cannot build key parameters");
    }
    return FromParams("EC", EVP_PKEY_KEYPAIR, bld.get());
  }
  return InvalidArgument("unsupported key type for import");
}

Result<ossl::Ptr<EVP_PKEY>> PublicKeyFromAttributes(const Object& o) {
  auto bld = ossl::Wrap(OSSL_PARAM_BLD_new());
  if (o.KeyType() == CKK_RSA) {
    auto n_it = o.attrs.find(CKA_MODULUS);
    auto e_it = o.attrs.find(CKA_PUBLIC_EXPONENT);
    if (n_it == o.attrs.end() || e_it == o.attrs.end() || n_it->second.empty() ||
        e_it->second.empty()) {
      return InvalidArgument("an RSA public key needs CKA_MODULUS and CKA_PUBLIC_EXPONENT");
    }
    auto n = Bn(n_it->second);
    auto e = Bn(e_it->second);
    if (!n || !e || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
      return ossl::Fail(Code::kInternal, "cannot build key parameters");
    }
    return FromParams("RSA", EVP_PKEY_PUBLIC_KEY, bld.get());
  }
  if (o.KeyType() == CKK_EC) {
    auto p_it = o.attrs.find(CKA_EC_PARAMS);
    auto q_it = o.attrs.find(CKA_EC_POINT);
    if (p_it == o.attrs.end() || q_it == o.attrs.end()) {
      return InvalidArgument("an EC public key needs CKA_EC_PARAMS and CKA_EC_POINT");
    }
    KMRA_ASSIGN_OR_RETURN(Curve curve, CurveFromParams(p_it->second));
    auto point = UnwrapEcPoint(q_it->second, curve.field_bytes);
    if (point.empty()) return InvalidArgument("CKA_EC_POINT is not an uncompressed point");
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
      return ossl::Fail(Code::kInternal, "cannot build key parameters");
    }
    return FromParams("EC", EVP_PKEY_PUBLIC_KEY, bld.get());
  }
  return InvalidArgument("unsupported public key type");
}

Status AttachKey(Object& o) {
  const CK_OBJECT_CLASS cls = o.Class();
  if (cls == CKO_PRIVATE_KEY) {
    KMRA_ASSIGN_OR_RETURN(auto pkey, FromPkcs8(o.secret.Reveal()));
    o.pkey = std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
  } else if (cls == CKO_PUBLIC_KEY) {
    KMRA_ASSIGN_OR_RETURN(auto pkey, PublicKeyFromAttributes(o));
    o.pkey = std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
  }
  return OkStatus();
}

}  // namespace kmra::token
