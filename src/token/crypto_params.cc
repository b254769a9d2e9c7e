#include "token/crypto_params.h"

#include <cstring>
#include <optional>

#include "crypto/key.h"
#include "crypto/rsa.h"
#include "token/mechanisms.h"

namespace kmra::token {

bool IsRsaMech(CK_MECHANISM_TYPE m) {
  switch (m) {
    case CKM_RSA_PKCS:
    case CKM_RSA_X_509:
    case CKM_RSA_PKCS_OAEP:
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS:
    case CKM_SHA256_RSA_PKCS:
    case CKM_SHA384_RSA_PKCS:
    case CKM_SHA512_RSA_PKCS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS:
      return true;
    default:
      return false;
  }
}

bool IsPss(CK_MECHANISM_TYPE m) {
  return m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS || m == CKM_SHA256_RSA_PKCS_PSS ||
         m == CKM_SHA384_RSA_PKCS_PSS || m == CKM_SHA512_RSA_PKCS_PSS;
}

bool IsEcdsa(CK_MECHANISM_TYPE m) {
  return m == CKM_ECDSA || m == CKM_ECDSA_SHA1 || m == CKM_ECDSA_SHA256 || m == CKM_ECDSA_SHA384 ||
         m == CKM_ECDSA_SHA512;
}

size_t RsaBytes(const Operation& op) {
  return static_cast<size_t>(EVP_PKEY_get_size(op.pkey.get()));
}
size_t EcFieldBytes(const Operation& op) {
  return static_cast<size_t>((EVP_PKEY_get_bits(op.pkey.get()) + 7) / 8);
}

namespace {

// Copies the parameter structure of `m` into `out`: false unless it is there with its exact size.
template <class Params>
bool ReadParams(const CK_MECHANISM& m, Params& out) {
  if (m.pParameter == nullptr || m.ulParameterLen != sizeof(Params)) return false;
  std::memcpy(&out, m.pParameter, sizeof out);
  return true;
}

// The hash and MGF1 hash that CK_RSA_PKCS_OAEP_PARAMS and CK_RSA_PKCS_PSS_PARAMS both name:
// false unless both are hashes of the token.
bool ReadHashes(CK_MECHANISM_TYPE hash_alg, CK_RSA_PKCS_MGF_TYPE mgf, crypto::HashAlg& hash,
                std::optional<crypto::HashAlg>& mgf1) {
  const auto h = HashOf(hash_alg);
  const auto g = HashOfMgf(mgf);
  if (!h || !g) return false;
  hash = *h;
  mgf1 = *g;
  return true;
}

}  // namespace

CK_RV ParsePss(const CK_MECHANISM& m, Operation& op) {
  CK_RSA_PKCS_PSS_PARAMS p;
  if (!ReadParams(m, p) || !ReadHashes(p.hashAlg, p.mgf, op.pss.hash, op.pss.mgf1)) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  // A hash-and-sign mechanism must name its own hash (PKCS#11 v2.40 current mechanisms §2.1.14).
  const CK_MECHANISM_TYPE own = HashOfSignMechanism(m.mechanism);
  if (own != 0 && own != p.hashAlg) return CKR_MECHANISM_PARAM_INVALID;
  // RFC 8017 §9.1.1 (crypto::RsaPssMaxSalt): a key too small for the hash at all is
  // CKR_KEY_SIZE_RANGE; a salt that does not fit, PARAM_INVALID.
  const auto max = crypto::RsaPssMaxSalt(crypto::PublicKey::Share(op.pkey.get()), op.pss.hash);
  if (!max) return CKR_KEY_SIZE_RANGE;
  if (p.sLen > *max) return CKR_MECHANISM_PARAM_INVALID;
  op.pss.salt_len = static_cast<size_t>(p.sLen);
  return CKR_OK;
}

CK_RV ParseOaep(const CK_MECHANISM& m, Operation& op) {
  CK_RSA_PKCS_OAEP_PARAMS p;
  if (!ReadParams(m, p) || !ReadHashes(p.hashAlg, p.mgf, op.oaep.hash, op.oaep.mgf1)) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  // RFC 8017 §7.1.1 (crypto::RsaOaepMaxInput): the modulus must hold two hashes and two bytes.
  if (op.pkey && !crypto::RsaOaepMaxInput(crypto::PublicKey::Share(op.pkey.get()), op.oaep)) {
    return CKR_KEY_SIZE_RANGE;
  }
  if (p.source != 0 && p.source != CKZ_DATA_SPECIFIED) return CKR_MECHANISM_PARAM_INVALID;
  if (p.ulSourceDataLen > 0) {
    if (p.pSourceData == nullptr || p.ulSourceDataLen > 4096) return CKR_MECHANISM_PARAM_INVALID;
    const auto* s = static_cast<const uint8_t*>(p.pSourceData);
    op.oaep.label.assign(s, s + p.ulSourceDataLen);
  }
  return CKR_OK;
}

CK_RV ParseGcm(const CK_MECHANISM& m, Operation& op) {
  // p11-kit's CK_GCM_PARAMS carries ulIvBits (v2.40 errata); accept the older layout without it.
  constexpr size_t kOld = sizeof(CK_GCM_PARAMS) - sizeof(CK_ULONG);
  if (m.pParameter == nullptr ||
      (m.ulParameterLen != sizeof(CK_GCM_PARAMS) && m.ulParameterLen != kOld)) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  CK_GCM_PARAMS p{};
  if (m.ulParameterLen == sizeof(CK_GCM_PARAMS)) {
    std::memcpy(&p, m.pParameter, sizeof p);
  } else {
    const auto* w = static_cast<const CK_ULONG*>(m.pParameter);
    std::memcpy(&p.pIv, &w[0], sizeof(void*));
    p.ulIvLen = w[1];
    std::memcpy(&p.pAAD, &w[2], sizeof(void*));
    p.ulAADLen = w[3];
    p.ulTagBits = w[4];
  }
  if (p.ulIvLen == 0 || p.ulIvLen > 256 || p.pIv == nullptr) return CKR_MECHANISM_PARAM_INVALID;
  if (p.ulAADLen > (1u << 20) || (p.ulAADLen > 0 && p.pAAD == nullptr)) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  if (p.ulTagBits < 96 || p.ulTagBits > 128 || p.ulTagBits % 8 != 0) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  op.iv.assign(p.pIv, p.pIv + p.ulIvLen);
  if (p.ulAADLen > 0) op.aad.assign(p.pAAD, p.pAAD + p.ulAADLen);
  op.tag_bytes = p.ulTagBits / 8;
  return CKR_OK;
}

}  // namespace kmra::token
