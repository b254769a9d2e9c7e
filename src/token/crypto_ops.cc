#include "token/crypto_ops.h"

#include <openssl/rsa.h>

#include <cstring>
#include <iterator>

#include "crypto/aes_gcm.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "crypto/rsa.h"
#include "token/crypto_params.h"
#include "token/mechanisms.h"

namespace kmra::token {
namespace {

// Applies the padding of PKCS#1 v1.5 and raw RSA mechanisms, and the DigestInfo hash of the
// hash-and-sign ones, to a PKEY context set up for its kind (OAEP and PSS are crypto/rsa.h's, with
// the parameters the caller gave).
bool ConfigureRsa(const Operation& op, EVP_PKEY_CTX* ctx) {
  if (EVP_PKEY_CTX_set_rsa_padding(
          ctx, op.mech == CKM_RSA_X_509 ? RSA_NO_PADDING : RSA_PKCS1_PADDING) != 1) {
    return false;
  }
  return op.md == nullptr || EVP_PKEY_CTX_set_signature_md(ctx, op.md) == 1;
}

// ECDSA signatures are raw r || s in PKCS#11 (§2.3.1) and DER in OpenSSL; the conversions are
// crypto's (crypto/ecdsa.h).
bool DerToRaw(std::span<const uint8_t> der, size_t field, SecretBytes& out) {
  auto raw = crypto::EcdsaDerToRaw(der, field);
  if (!raw) return false;
  out = SecretBytes(std::span<const uint8_t>(*raw));
  return true;
}

std::vector<uint8_t> RawToDer(std::span<const uint8_t> raw) {
  auto der = crypto::EcdsaRawToDer(raw);
  return der ? std::move(*der) : std::vector<uint8_t>{};
}

// The result of a crypto decryption (AES-GCM, RSA-OAEP) as PKCS#11 answers it: the plaintext in
// `out`; CKR_ENCRYPTED_DATA_INVALID for a ciphertext that does not open (Unauthenticated), else
// CKR_FUNCTION_FAILED.
CK_RV TakePlaintext(Result<SecretBytes> plain, SecretBytes& out) {
  if (!plain) {
    out.clear();
    return plain.error().code() == Code::kUnauthenticated ? CKR_ENCRYPTED_DATA_INVALID
                                                          : CKR_FUNCTION_FAILED;
  }
  out = std::move(*plain);
  return CKR_OK;
}

// CKM_AES_GCM (PKCS#11 v2.40 section 2.12.3): output ciphertext || tag, input of a decryption
// likewise.
CK_RV GcmCrypt(Operation& op, std::span<const uint8_t> in, SecretBytes& out) {
  if (op.kind == OpKind::kEncrypt) {
    auto ct = crypto::AesGcmEncrypt(op.key.Reveal(), op.iv, in, op.aad, op.tag_bytes);
    if (!ct) return CKR_FUNCTION_FAILED;
    out = SecretBytes(*ct);
    return CKR_OK;
  }
  if (in.size() < op.tag_bytes) return CKR_ENCRYPTED_DATA_LEN_RANGE;
  return TakePlaintext(crypto::AesGcmDecrypt(op.key.Reveal(), op.iv, in, op.aad, op.tag_bytes),
                       out);
}

}  // namespace

CK_RV InitOperation(OpKind kind, const CK_MECHANISM& m, const Object* key, Operation& op) {
  op = Operation();
  op.kind = kind;
  op.mech = m.mechanism;
  const MechanismEntry* entry = FindMechanism(m.mechanism);
  // The mechanism flag and the key usage attribute each kind needs (in OpKind order).
  struct Use {
    CK_FLAGS flag;
    CK_ATTRIBUTE_TYPE usage;
  };
  static constexpr Use kUses[] = {{CKF_SIGN, CKA_SIGN},
                                  {CKF_VERIFY, CKA_VERIFY},
                                  {CKF_ENCRYPT, CKA_ENCRYPT},
                                  {CKF_DECRYPT, CKA_DECRYPT},
                                  {CKF_DIGEST, 0}};
  static_assert(static_cast<size_t>(OpKind::kDigest) + 1 == std::size(kUses));
  const CK_FLAGS need = kUses[static_cast<size_t>(kind)].flag;
  const CK_ATTRIBUTE_TYPE usage = kUses[static_cast<size_t>(kind)].usage;
  if (entry == nullptr || (entry->info.flags & need) == 0) return CKR_MECHANISM_INVALID;
  if (kind == OpKind::kDigest) {
    if (m.ulParameterLen != 0) return CKR_MECHANISM_PARAM_INVALID;
    op.md = DigestOf(m.mechanism);
    op.md_ctx = ossl::Wrap(EVP_MD_CTX_new());
    if (!op.md_ctx || EVP_DigestInit_ex(op.md_ctx.get(), op.md, nullptr) != 1) {
      return CKR_HOST_MEMORY;
    }
    return CKR_OK;
  }
  if (key == nullptr) return CKR_KEY_HANDLE_INVALID;
  if (!key->Bool(usage, false)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if (m.mechanism == CKM_AES_GCM) {
    if (key->KeyType() != CKK_AES) return CKR_KEY_TYPE_INCONSISTENT;
    op.key = key->secret;
    return ParseGcm(m, op);
  }
  const CK_OBJECT_CLASS need_class =
      (kind == OpKind::kSign || kind == OpKind::kDecrypt) ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
  const CK_OBJECT_CLASS cls = key->Class();
  if (cls != need_class && !(cls == CKO_PRIVATE_KEY && need_class == CKO_PUBLIC_KEY)) {
    return CKR_KEY_TYPE_INCONSISTENT;
  }
  if (IsRsaMech(m.mechanism) ? key->KeyType() != CKK_RSA
                             : (IsEcdsa(m.mechanism) && key->KeyType() != CKK_EC)) {
    return CKR_KEY_TYPE_INCONSISTENT;
  }
  if (!key->pkey) return CKR_KEY_HANDLE_INVALID;
  op.pkey = key->pkey;
  const CK_MECHANISM_TYPE hash = HashOfSignMechanism(m.mechanism);
  if (hash != 0) op.md = DigestOf(hash);
  if (IsPss(m.mechanism)) {
    CK_RV rv = ParsePss(m, op);
    if (rv != CKR_OK) return rv;
  } else if (m.mechanism == CKM_RSA_PKCS_OAEP) {
    CK_RV rv = ParseOaep(m, op);
    if (rv != CKR_OK) return rv;
  } else if (m.ulParameterLen != 0) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  if (op.md != nullptr && (kind == OpKind::kSign || kind == OpKind::kVerify)) {
    op.md_ctx = ossl::Wrap(EVP_MD_CTX_new());
    if (!op.md_ctx || EVP_DigestInit_ex(op.md_ctx.get(), op.md, nullptr) != 1) {
      return CKR_HOST_MEMORY;
    }
  }
  return CKR_OK;
}

size_t OutputBound(const Operation& op, size_t in_len) {
  in_len += op.data.size();
  if (op.kind == OpKind::kDigest) return static_cast<size_t>(EVP_MD_get_size(op.md));
  if (op.mech == CKM_AES_GCM) {
    return op.kind == OpKind::kEncrypt ? in_len + op.tag_bytes
                                       : (in_len > op.tag_bytes ? in_len - op.tag_bytes : 0);
  }
  if (IsEcdsa(op.mech)) return 2 * EcFieldBytes(op);
  return RsaBytes(op);
}

CK_RV UpdateOperation(Operation& op, std::span<const uint8_t> in) {
  op.multipart = true;
  if (op.md_ctx) {
    return EVP_DigestUpdate(op.md_ctx.get(), in.data(), in.size()) == 1 ? CKR_OK
                                                                        : CKR_FUNCTION_FAILED;
  }
  if (op.data.size() + in.size() > (16u << 20)) return CKR_DATA_LEN_RANGE;
  const size_t old = op.data.size();
  op.data.resize(old + in.size());
  if (!in.empty()) std::memcpy(op.data.RevealMutable().data() + old, in.data(), in.size());
  return CKR_OK;
}

namespace {

// The bytes the private-key primitive works on: the digest for hash-and-sign mechanisms, the
// input itself otherwise.
CK_RV Prehash(Operation& op, std::span<const uint8_t> in, SecretBytes& tbs) {
  if (op.md_ctx) {
    if (!in.empty() && EVP_DigestUpdate(op.md_ctx.get(), in.data(), in.size()) != 1) {
      return CKR_FUNCTION_FAILED;
    }
    tbs = SecretBytes(static_cast<size_t>(EVP_MD_get_size(op.md)));
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(op.md_ctx.get(), tbs.RevealMutable().data(), &len) != 1) {
      return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
  }
  if (op.multipart) {
    tbs = op.data;  // kept: a short output buffer lets the caller retry (§5.2)
    const size_t old = tbs.size();
    tbs.resize(old + in.size());
    if (!in.empty()) std::memcpy(tbs.RevealMutable().data() + old, in.data(), in.size());
  } else {
    tbs = SecretBytes(in);
  }
  return CKR_OK;
}

// Checks the input length rules of raw mechanisms (§2.1.6-2.1.8, §2.3.1).
CK_RV CheckRawInput(const Operation& op, size_t len) {
  const size_t k = op.pkey ? static_cast<size_t>(EVP_PKEY_get_size(op.pkey.get())) : 0;
  if (op.mech == CKM_RSA_PKCS &&
      (op.kind == OpKind::kSign || op.kind == OpKind::kVerify || op.kind == OpKind::kEncrypt)) {
    return len + 11 > k ? CKR_DATA_LEN_RANGE : CKR_OK;
  }
  if (op.mech == CKM_RSA_X_509) return len > k ? CKR_DATA_LEN_RANGE : CKR_OK;
  if (op.mech == CKM_RSA_PKCS_PSS) {
    return len != crypto::HashSize(op.pss.hash) ? CKR_DATA_LEN_RANGE : CKR_OK;
  }
  if (op.mech == CKM_ECDSA) return len == 0 || len > 1024 ? CKR_DATA_LEN_RANGE : CKR_OK;
  return CKR_OK;
}

SecretBytes LeftPad(const SecretBytes& in, size_t k) {
  SecretBytes out(k);
  std::memcpy(out.RevealMutable().data() + (k - in.size()), in.Reveal().data(), in.size());
  return out;
}

}  // namespace

CK_RV RsaEncrypt(Operation& op, std::span<const uint8_t> in, SecretBytes& out) {
  if (op.mech == CKM_RSA_PKCS_OAEP) {
    auto ct = crypto::RsaOaepEncrypt(crypto::PublicKey::Share(op.pkey.get()), in, op.oaep);
    if (!ct) {
      return ct.error().code() == Code::kInvalidArgument ? CKR_DATA_LEN_RANGE : CKR_FUNCTION_FAILED;
    }
    out = SecretBytes(std::span<const uint8_t>(*ct));
    return CKR_OK;
  }
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_pkey(nullptr, op.pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 || !ConfigureRsa(op, ctx.get())) {
    ossl::DrainErrors();
    return CKR_FUNCTION_FAILED;
  }
  SecretBytes input(in);
  if (op.mech == CKM_RSA_X_509) input = LeftPad(input, RsaBytes(op));
  size_t len = RsaBytes(op);
  out = SecretBytes(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.RevealMutable().data(), &len, input.Reveal().data(),
                       input.size()) != 1) {
    ossl::DrainErrors();
    return CKR_DATA_LEN_RANGE;
  }
  out.resize(len);
  return CKR_OK;
}

CK_RV RsaDecrypt(Operation& op, std::span<const uint8_t> in, SecretBytes& out) {
  if (in.size() != RsaBytes(op)) return CKR_ENCRYPTED_DATA_LEN_RANGE;
  if (op.mech == CKM_RSA_PKCS_OAEP) {
    return TakePlaintext(
        crypto::RsaOaepDecrypt(crypto::PrivateKey::Share(op.pkey.get()), in, op.oaep), out);
  }
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_pkey(nullptr, op.pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 || !ConfigureRsa(op, ctx.get())) {
    ossl::DrainErrors();
    return CKR_FUNCTION_FAILED;
  }
  size_t len = RsaBytes(op);
  out = SecretBytes(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.RevealMutable().data(), &len, in.data(), in.size()) != 1) {
    ossl::DrainErrors();
    out.clear();
    return CKR_ENCRYPTED_DATA_INVALID;
  }
  out.resize(len);
  return CKR_OK;
}

CK_RV FinishOperation(Operation& op, std::span<const uint8_t> in, SecretBytes& out) {
  SecretBytes tbs;
  if (op.kind == OpKind::kDigest) {
    CK_RV rv = Prehash(op, in, out);
    return rv;
  }
  CK_RV rv = Prehash(op, in, tbs);
  if (rv != CKR_OK) return rv;
  if (op.mech == CKM_AES_GCM) return GcmCrypt(op, tbs.Reveal(), out);
  if (op.kind == OpKind::kEncrypt) {
    if ((rv = CheckRawInput(op, tbs.size())) != CKR_OK) return rv;
    return RsaEncrypt(op, tbs.Reveal(), out);
  }
  if (op.kind == OpKind::kDecrypt) return RsaDecrypt(op, tbs.Reveal(), out);
  // Sign.
  if (op.md == nullptr && (rv = CheckRawInput(op, tbs.size())) != CKR_OK) return rv;
  if (IsPss(op.mech)) {
    // tbs is the digest of op.pss.hash (ParsePss ties it to the mechanism's own hash).
    auto sig =
        crypto::RsaPssSignDigest(crypto::PrivateKey::Share(op.pkey.get()), tbs.Reveal(), op.pss);
    if (!sig) return CKR_FUNCTION_FAILED;
    out = SecretBytes(std::span<const uint8_t>(*sig));
    return CKR_OK;
  }
  if (op.mech == CKM_RSA_X_509) tbs = LeftPad(tbs, RsaBytes(op));
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_pkey(nullptr, op.pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) return CKR_FUNCTION_FAILED;
  if (IsRsaMech(op.mech) && !ConfigureRsa(op, ctx.get())) return CKR_FUNCTION_FAILED;
  // The largest signature of this key (the modulus size, or the longest DER ECDSA-Sig-Value), so
  // one EVP_PKEY_sign call does; a length query first would cost a second pass through the
  // provider.
  size_t len = static_cast<size_t>(EVP_PKEY_get_size(op.pkey.get()));
  SecretBytes sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.RevealMutable().data(), &len, tbs.Reveal().data(), tbs.size()) !=
      1) {
    ossl::DrainErrors();
    // RSA_X_509 input not below the modulus is a caller error.
    return op.mech == CKM_RSA_X_509 ? CKR_DATA_INVALID : CKR_FUNCTION_FAILED;
  }
  sig.resize(len);
  if (IsEcdsa(op.mech)) {
    if (!DerToRaw(sig.Reveal(), EcFieldBytes(op), out)) return CKR_FUNCTION_FAILED;
    return CKR_OK;
  }
  out = std::move(sig);
  return CKR_OK;
}

CK_RV FinishVerify(Operation& op, std::span<const uint8_t> in, std::span<const uint8_t> signature) {
  SecretBytes tbs;
  CK_RV rv = Prehash(op, in, tbs);
  if (rv != CKR_OK) return rv;
  if (op.md == nullptr && (rv = CheckRawInput(op, tbs.size())) != CKR_OK) return rv;
  std::vector<uint8_t> sig(signature.begin(), signature.end());
  if (IsEcdsa(op.mech)) {
    if (sig.size() != 2 * EcFieldBytes(op)) return CKR_SIGNATURE_LEN_RANGE;
    sig = RawToDer(sig);
    if (sig.empty()) return CKR_SIGNATURE_INVALID;
  } else if (sig.size() != RsaBytes(op)) {
    return CKR_SIGNATURE_LEN_RANGE;
  }
  if (IsPss(op.mech)) {
    auto ok = crypto::RsaPssVerifyDigest(crypto::PublicKey::Share(op.pkey.get()), tbs.Reveal(), sig,
                                         op.pss);
    if (ok) return CKR_OK;
    return ok.error().code() == Code::kInternal ? CKR_FUNCTION_FAILED : CKR_SIGNATURE_INVALID;
  }
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_pkey(nullptr, op.pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return CKR_FUNCTION_FAILED;
  if (IsRsaMech(op.mech) && !ConfigureRsa(op, ctx.get())) return CKR_FUNCTION_FAILED;
  if (op.mech == CKM_RSA_X_509) {
    // Raw RSA: recover the block and compare with the left-padded input.
    size_t len = RsaBytes(op);
    SecretBytes rec(len);
    auto vctx = ossl::Wrap(EVP_PKEY_CTX_new_from_pkey(nullptr, op.pkey.get(), nullptr));
    if (!vctx || EVP_PKEY_verify_recover_init(vctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(vctx.get(), RSA_NO_PADDING) != 1 ||
        EVP_PKEY_verify_recover(vctx.get(), rec.RevealMutable().data(), &len, sig.data(),
                                sig.size()) != 1) {
      ossl::DrainErrors();
      return CKR_SIGNATURE_INVALID;
    }
    rec.resize(len);
    return rec.Equals(LeftPad(tbs, RsaBytes(op)).Reveal()) ? CKR_OK : CKR_SIGNATURE_INVALID;
  }
  int ok = EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), tbs.Reveal().data(), tbs.size());
  ossl::DrainErrors();
  return ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
}

}  // namespace kmra::token
