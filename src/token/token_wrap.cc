// Token: key wrapping and unwrapping (PKCS#11 v2.40 §5.14), with the custody rules of the
// attestation path (docs/token.md, "Threat model and custody").
#include <algorithm>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "crypto/aes_kw.h"
#include "kmra/pkcs11_vendor.h"
#include "token/attributes.h"
#include "token/custody.h"
#include "token/key_template.h"
#include "token/keys.h"
#include "token/log.h"
#include "token/mechanisms.h"
#include "token/token.h"

namespace kmra::token {
namespace {

// The IV of CKM_AES_KEY_WRAP / CKM_AES_KEY_WRAP_PAD: the mechanism parameter when one is given
// (PKCS#11 v2.40 section 2.14.3), else empty for the RFC's default.
std::span<const uint8_t> KeyWrapIv(const CK_MECHANISM& m) {
  return {static_cast<const uint8_t*>(m.pParameter),
          m.pParameter == nullptr ? 0 : static_cast<size_t>(m.ulParameterLen)};
}

// CKM_AES_GCM unwrap with an AES-128 or AES-256 key: wrapped = IV (12 bytes) || ciphertext || tag
// (16 bytes). The mechanism parameter is NULL or a CK_GCM_PARAMS whose IV equals that prefix, with
// a 128-bit tag and an optional AAD.
CK_RV GcmUnwrap(const CK_MECHANISM& m, const Object& kek, std::span<const uint8_t> wrapped,
                SecretBytes& plain) {
  std::vector<uint8_t> aad;
  if (m.pParameter != nullptr || m.ulParameterLen != 0) {
    Object probe;  // InitOperation parses CK_GCM_PARAMS; reuse it with a usage flag.
    probe.SetUlong(CKA_CLASS, CKO_SECRET_KEY);
    probe.SetUlong(CKA_KEY_TYPE, CKK_AES);
    probe.SetBool(CKA_DECRYPT, true);
    Operation op;
    CK_RV rv = InitOperation(OpKind::kDecrypt, m, &probe, op);
    if (rv != CKR_OK) return rv;
    if (op.tag_bytes != crypto::kGcmTagSize || op.iv.size() != crypto::kGcmIvSize ||
        wrapped.size() < crypto::kGcmIvSize ||
        !std::equal(op.iv.begin(), op.iv.end(), wrapped.begin())) {
      LogError(
          "C_UnwrapKey: CKM_AES_GCM takes a 128-bit tag and the 12-byte IV that prefixes the "
          "wrapped key");
      return CKR_MECHANISM_PARAM_INVALID;
    }
    aad = std::move(op.aad);
  }
  if (kek.secret.size() != 16 && kek.secret.size() != 32) return CKR_UNWRAPPING_KEY_SIZE_RANGE;
  if (wrapped.size() < crypto::kGcmIvSize + crypto::kGcmTagSize + 1) {
    return CKR_WRAPPED_KEY_LEN_RANGE;
  }
  auto r = crypto::AesGcmOpen(kek.secret.Reveal(), wrapped, aad);
  if (!r) {
    LogError("C_UnwrapKey: " + r.error().message());
    return CKR_WRAPPED_KEY_INVALID;
  }
  plain = std::move(*r);
  return CKR_OK;
}

}  // namespace

CK_RV Token::WrapKey(Session& s, const CK_MECHANISM& m, CK_OBJECT_HANDLE wrapping,
                     CK_OBJECT_HANDLE key, uint8_t* out, CK_ULONG* out_len) {
  if (m.mechanism == CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY) {
    if (wrapping != CK_INVALID_HANDLE) return CKR_WRAPPING_KEY_HANDLE_INVALID;
    return QuoteWrap(s, m, key, out, out_len);
  }
  const MechanismEntry* entry = FindMechanism(m.mechanism);
  if (entry == nullptr || (entry->info.flags & CKF_WRAP) == 0) return CKR_MECHANISM_INVALID;
  auto wk = Visible(wrapping);
  if (!wk) return CKR_WRAPPING_KEY_HANDLE_INVALID;
  auto k = Visible(key);
  if (!k) return CKR_KEY_HANDLE_INVALID;
  if (InCustody(*k)) {
    return RefuseCustody("C_WrapKey", CKR_KEY_UNEXTRACTABLE,
                         "the key is on the attestation path (CKA_KMRA_CUSTODY); it never leaves "
                         "the token");
  }
  if (InCustody(*wk)) {
    return RefuseCustody("C_WrapKey", CKR_KEY_FUNCTION_NOT_PERMITTED,
                         "the wrapping key is on the attestation path; it wraps nothing");
  }
  if (!wk->Bool(CKA_WRAP, false)) return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
  if (!AllowsMechanism(*wk, m.mechanism)) return CKR_MECHANISM_INVALID;
  if (k->Class() != CKO_SECRET_KEY && k->Class() != CKO_PRIVATE_KEY) return CKR_KEY_NOT_WRAPPABLE;
  if (!k->Bool(CKA_EXTRACTABLE, false)) return CKR_KEY_UNEXTRACTABLE;
  if (k->Bool(CKA_WRAP_WITH_TRUSTED, false) && !wk->Bool(CKA_TRUSTED, false)) {
    return CKR_KEY_NOT_WRAPPABLE;
  }
  std::vector<uint8_t> wrapped;
  if (m.mechanism == CKM_AES_KEY_WRAP || m.mechanism == CKM_AES_KEY_WRAP_PAD) {
    if (wk->Class() != CKO_SECRET_KEY || wk->KeyType() != CKK_AES) {
      return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
    }
    const auto iv = KeyWrapIv(m);
    auto r = m.mechanism == CKM_AES_KEY_WRAP_PAD
                 ? crypto::AesKeyWrapPad(wk->secret.Reveal(), k->secret.Reveal(), iv)
                 : crypto::AesKeyWrap(wk->secret.Reveal(), k->secret.Reveal(), iv);
    if (!r)
      return r.error().code() == Code::kInvalidArgument ? CKR_KEY_SIZE_RANGE : CKR_FUNCTION_FAILED;
    wrapped = std::move(*r);
  } else {
    // RSA wraps secret keys only (a private key does not fit in one RSA block).
    if (k->Class() != CKO_SECRET_KEY) return CKR_KEY_NOT_WRAPPABLE;
    if (wk->KeyType() != CKK_RSA || !wk->pkey) return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
    Operation op;
    op.kind = OpKind::kEncrypt;
    op.mech = m.mechanism;
    op.pkey = wk->pkey;
    Object probe;  // InitOperation parses the mechanism parameters; reuse it with a usage flag.
    probe.attrs = wk->attrs;
    probe.pkey = wk->pkey;
    probe.SetBool(CKA_ENCRYPT, true);
    probe.SetUlong(CKA_CLASS, CKO_PUBLIC_KEY);
    CK_RV rv = InitOperation(OpKind::kEncrypt, m, &probe, op);
    if (rv != CKR_OK) return rv;
    SecretBytes ct;
    rv = RsaEncrypt(op, k->secret.Reveal(), ct);
    if (rv != CKR_OK) return rv == CKR_DATA_LEN_RANGE ? CKR_KEY_SIZE_RANGE : rv;
    wrapped.assign(ct.Reveal().begin(), ct.Reveal().end());
  }
  if (out == nullptr) {
    *out_len = wrapped.size();
    return CKR_OK;
  }
  if (*out_len < wrapped.size()) {
    *out_len = wrapped.size();
    return CKR_BUFFER_TOO_SMALL;
  }
  std::memcpy(out, wrapped.data(), wrapped.size());
  *out_len = wrapped.size();
  k->revealed = true;  // it left the token: the quote mechanism no longer vouches for it
  return CKR_OK;
}

CK_RV Token::UnwrapKey(Session& s, const CK_MECHANISM& m, CK_OBJECT_HANDLE unwrapping,
                       std::span<const uint8_t> wrapped, const CK_ATTRIBUTE* tmpl, CK_ULONG count,
                       CK_OBJECT_HANDLE& out) {
  const MechanismEntry* entry = FindMechanism(m.mechanism);
  if (entry == nullptr || (entry->info.flags & CKF_UNWRAP) == 0) return CKR_MECHANISM_INVALID;
  auto uk = Visible(unwrapping);
  if (!uk) return CKR_UNWRAPPING_KEY_HANDLE_INVALID;
  if (!uk->Bool(CKA_UNWRAP, false)) return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
  const CK_ULONG custody = uk->Custody();
  const bool custody_path =
      custody == KMRA_CUSTODY_ATTESTATION || custody == KMRA_CUSTODY_TRANSPORT;
  if (!AllowsMechanism(*uk, m.mechanism)) {
    if (!custody_path) return CKR_MECHANISM_INVALID;
    return RefuseCustody("C_UnwrapKey", CKR_MECHANISM_INVALID,
                         custody == KMRA_CUSTODY_ATTESTATION
                             ? "an attestation key unwraps only with CKM_RSA_PKCS_OAEP"
                             : "a transport key unwraps only with CKM_AES_KEY_WRAP_PAD or "
                               "CKM_AES_GCM");
  }
  AttrMap probe;
  CK_RV rv = DecodeTemplate(tmpl, count, probe);
  if (rv != CKR_OK) return rv;
  Object o;
  o.attrs = probe;
  if (!o.Has(CKA_CLASS) || !o.Has(CKA_KEY_TYPE)) return CKR_TEMPLATE_INCOMPLETE;
  const CK_OBJECT_CLASS cls = o.Class();
  const CK_KEY_TYPE kt = o.KeyType();
  if (!(cls == CKO_SECRET_KEY && (kt == CKK_AES || kt == CKK_GENERIC_SECRET)) &&
      !(cls == CKO_PRIVATE_KEY && (kt == CKK_RSA || kt == CKK_EC))) {
    return CKR_TEMPLATE_INCONSISTENT;
  }
  o = Object();
  if ((rv = PrepareKeyTemplate(tmpl, count, cls, kt, o)) != CKR_OK) return rv;
  // On the attestation path the token, not the template, decides what the new key may do.
  if (custody_path && (rv = PrepareCustodyTarget(custody, o)) != CKR_OK) return rv;
  if (!o.Has(CKA_PRIVATE)) o.SetBool(CKA_PRIVATE, true);
  if ((rv = CheckCreate(s, o)) != CKR_OK) return rv;

  SecretBytes plain;
  if (m.mechanism == CKM_AES_KEY_WRAP || m.mechanism == CKM_AES_KEY_WRAP_PAD) {
    if (uk->Class() != CKO_SECRET_KEY || uk->KeyType() != CKK_AES) {
      return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
    }
    const auto iv = KeyWrapIv(m);
    auto r = m.mechanism == CKM_AES_KEY_WRAP_PAD
                 ? crypto::AesKeyUnwrapPad(uk->secret.Reveal(), wrapped, iv)
                 : crypto::AesKeyUnwrap(uk->secret.Reveal(), wrapped, iv);
    if (!r) {
      LogError("C_UnwrapKey: " + r.error().message());
      // Unauthenticated: the integrity check failed (wrong key or altered input).
      return r.error().code() == Code::kUnauthenticated ? CKR_WRAPPED_KEY_INVALID
                                                        : CKR_WRAPPED_KEY_LEN_RANGE;
    }
    plain = std::move(*r);
  } else if (m.mechanism == CKM_AES_GCM) {
    if (uk->Class() != CKO_SECRET_KEY || uk->KeyType() != CKK_AES) {
      return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
    }
    if ((rv = GcmUnwrap(m, *uk, wrapped, plain)) != CKR_OK) return rv;
  } else {
    if (uk->Class() != CKO_PRIVATE_KEY || uk->KeyType() != CKK_RSA || !uk->pkey) {
      return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
    }
    Object probe_key;
    probe_key.attrs = uk->attrs;
    probe_key.pkey = uk->pkey;
    probe_key.SetBool(CKA_DECRYPT, true);
    Operation op;
    if ((rv = InitOperation(OpKind::kDecrypt, m, &probe_key, op)) != CKR_OK) return rv;
    rv = RsaDecrypt(op, wrapped, plain);
    if (rv == CKR_ENCRYPTED_DATA_LEN_RANGE) return CKR_WRAPPED_KEY_LEN_RANGE;
    if (rv != CKR_OK) return CKR_WRAPPED_KEY_INVALID;
  }
  if (cls == CKO_SECRET_KEY) {
    const size_t n = plain.size();
    if (kt == CKK_AES && n != 16 && n != 24 && n != 32) return CKR_WRAPPED_KEY_INVALID;
    if (o.Has(CKA_VALUE_LEN) && o.Ulong(CKA_VALUE_LEN, 0) != n) return CKR_TEMPLATE_INCONSISTENT;
    o.SetUlong(CKA_VALUE_LEN, n);
    o.secret = std::move(plain);
  } else {
    // SoftHSM2 2.6.1 zero-pads the PKCS#8 to a multiple of 8 before CKM_AES_KEY_WRAP_PAD (instead
    // of leaving the padding to RFC 5649), so up to 7 zero bytes may follow the DER: drop exactly
    // those.
    std::span<const uint8_t> p8 = plain.Reveal();
    if (p8.size() >= 4 && p8[0] == 0x30 && (p8[1] == 0x81 || p8[1] == 0x82)) {
      size_t len = p8[1] == 0x81 ? 3 + size_t{p8[2]} : 4 + (size_t{p8[2]} << 8 | p8[3]);
      if (len < p8.size() && p8.size() - len < 8 &&
          std::all_of(p8.begin() + static_cast<std::ptrdiff_t>(len), p8.end(),
                      [](uint8_t b) { return b == 0; })) {
        p8 = p8.first(len);
      }
    } else if (p8.size() >= 2 && p8[0] == 0x30 && p8[1] < 0x80 && size_t{p8[1]} + 2 < p8.size() &&
               p8.size() - (size_t{p8[1]} + 2) < 8 &&
               std::all_of(p8.begin() + 2 + p8[1], p8.end(), [](uint8_t b) { return b == 0; })) {
      p8 = p8.first(size_t{p8[1]} + 2);
    }
    auto pkey = FromPkcs8(p8);
    if (!pkey) {
      LogError("C_UnwrapKey: the unwrapped bytes are not a usable private key: " +
               pkey.error().message());
      return CKR_WRAPPED_KEY_INVALID;
    }
    const bool is_rsa = EVP_PKEY_is_a(pkey->get(), "RSA");
    if ((kt == CKK_RSA) != is_rsa) return CKR_TEMPLATE_INCONSISTENT;
    // Re-encode: the stored PKCS#8 is always our own canonical encoding.
    auto der = ToPkcs8(pkey->get());
    if (!der) return CKR_FUNCTION_FAILED;
    o.secret = std::move(*der);
    o.pkey = std::shared_ptr<EVP_PKEY>(pkey->release(), EVP_PKEY_free);
    if (!SetPublicAttributes(o.pkey.get(), o)) return CKR_FUNCTION_FAILED;
  }
  SetOrigin(o, false, 0);
  if (custody_path) FinishCustodyTarget(o);
  if ((rv = AddObject(s, std::move(o), out)) != CKR_OK) return rv;
  // As Intel's CTK does, a session unwrapping key is used once: the customer key pair and the
  // transport key of a key release vanish as soon as they have served (custody keys are always
  // session objects).
  if (!uk->IsToken()) RemoveObject(unwrapping);
  return CKR_OK;
}

}  // namespace kmra::token
