#include "token/mechanisms.h"

#include "kmra/pkcs11_vendor.h"

namespace kmra::token {

const std::vector<MechanismEntry>& Mechanisms() {
  constexpr CK_FLAGS kSignVerify = CKF_SIGN | CKF_VERIFY;
  constexpr CK_FLAGS kEc = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
  static const std::vector<MechanismEntry> kTable = {
      {CKM_RSA_PKCS_KEY_PAIR_GEN, {2048, 4096, CKF_GENERATE_KEY_PAIR}},
      {CKM_RSA_PKCS, {2048, 4096, kSignVerify | CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP}},
      {CKM_RSA_X_509, {2048, 4096, kSignVerify | CKF_ENCRYPT | CKF_DECRYPT}},
      {CKM_RSA_PKCS_OAEP, {2048, 4096, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP}},
      {CKM_RSA_PKCS_PSS, {2048, 4096, kSignVerify}},
      {CKM_SHA1_RSA_PKCS, {2048, 4096, kSignVerify}},
      {CKM_SHA256_RSA_PKCS, {2048, 4096, kSignVerify}},
      {CKM_SHA384_RSA_PKCS, {2048, 4096, kSignVerify}},
      {CKM_SHA512_RSA_PKCS, {2048, 4096, kSignVerify}},
      {CKM_SHA1_RSA_PKCS_PSS, {2048, 4096, kSignVerify}},
      {CKM_SHA256_RSA_PKCS_PSS, {2048, 4096, kSignVerify}},
      {CKM_SHA384_RSA_PKCS_PSS, {2048, 4096, kSignVerify}},
      {CKM_SHA512_RSA_PKCS_PSS, {2048, 4096, kSignVerify}},
      {CKM_EC_KEY_PAIR_GEN, {256, 384, CKF_GENERATE_KEY_PAIR | kEc}},
      {CKM_ECDSA, {256, 384, kSignVerify | kEc}},
      {CKM_ECDSA_SHA1, {256, 384, kSignVerify | kEc}},
      {CKM_ECDSA_SHA256, {256, 384, kSignVerify | kEc}},
      {CKM_ECDSA_SHA384, {256, 384, kSignVerify | kEc}},
      {CKM_ECDSA_SHA512, {256, 384, kSignVerify | kEc}},
      {CKM_AES_KEY_GEN, {16, 32, CKF_GENERATE}},
      {CKM_AES_KEY_WRAP, {16, 32, CKF_WRAP | CKF_UNWRAP}},
      {CKM_AES_KEY_WRAP_PAD, {16, 32, CKF_WRAP | CKF_UNWRAP}},
      {CKM_AES_GCM, {16, 32, CKF_ENCRYPT | CKF_DECRYPT | CKF_UNWRAP}},
      {CKM_SHA_1, {0, 0, CKF_DIGEST}},
      {CKM_SHA256, {0, 0, CKF_DIGEST}},
      {CKM_SHA384, {0, 0, CKF_DIGEST}},
      {CKM_SHA512, {0, 0, CKF_DIGEST}},
      {CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY, {2048, 4096, CKF_WRAP}},
  };
  return kTable;
}

const MechanismEntry* FindMechanism(CK_MECHANISM_TYPE type) {
  for (const auto& m : Mechanisms()) {
    if (m.type == type) return &m;
  }
  return nullptr;
}

namespace {

// The token's hashes as PKCS#11 names them: a hash mechanism and an MGF1 generator each.
struct HashNames {
  CK_MECHANISM_TYPE mech;
  CK_RSA_PKCS_MGF_TYPE mgf;
  crypto::HashAlg alg;
};
constexpr HashNames kHashes[] = {
    {CKM_SHA_1, CKG_MGF1_SHA1, crypto::HashAlg::kSha1},
    {CKM_SHA224, CKG_MGF1_SHA224, crypto::HashAlg::kSha224},
    {CKM_SHA256, CKG_MGF1_SHA256, crypto::HashAlg::kSha256},
    {CKM_SHA384, CKG_MGF1_SHA384, crypto::HashAlg::kSha384},
    {CKM_SHA512, CKG_MGF1_SHA512, crypto::HashAlg::kSha512},
};

}  // namespace

std::optional<crypto::HashAlg> HashOf(CK_MECHANISM_TYPE hash_mech) {
  for (const auto& h : kHashes) {
    if (h.mech == hash_mech) return h.alg;
  }
  return std::nullopt;
}

std::optional<crypto::HashAlg> HashOfMgf(CK_RSA_PKCS_MGF_TYPE mgf) {
  for (const auto& h : kHashes) {
    if (h.mgf == mgf) return h.alg;
  }
  return std::nullopt;
}

const EVP_MD* DigestOf(CK_MECHANISM_TYPE hash_mech) {
  const auto alg = HashOf(hash_mech);
  return alg ? static_cast<const EVP_MD*>(crypto::internal::FetchedMd(*alg)) : nullptr;
}

CK_MECHANISM_TYPE HashOfSignMechanism(CK_MECHANISM_TYPE mech) {
  switch (mech) {
    case CKM_SHA1_RSA_PKCS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA1:
      return CKM_SHA_1;
    case CKM_SHA256_RSA_PKCS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA256:
      return CKM_SHA256;
    case CKM_SHA384_RSA_PKCS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA384:
      return CKM_SHA384;
    case CKM_SHA512_RSA_PKCS:
    case CKM_SHA512_RSA_PKCS_PSS:
    case CKM_ECDSA_SHA512:
      return CKM_SHA512;
    default:
      return 0;
  }
}

}  // namespace kmra::token
