// Token: operation setup, key generation, key wrapping and unwrapping (PKCS#11 v2.40 §5.14).
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "token/attributes.h"
#include "token/keys.h"
#include "token/log.h"
#include "token/mechanisms.h"
#include "token/token.h"
#include "token/wrap.h"
#include "kmra/pkcs11_vendor.h"

namespace kmra::token {
namespace {

// Decodes a key template, checks its attributes belong to the class and sets class and type.
CK_RV PrepareKeyTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, CK_OBJECT_CLASS cls,
                         CK_KEY_TYPE kt, Object& o) {
  CK_RV rv = DecodeTemplate(tmpl, count, o.attrs);
  if (rv != CKR_OK) return rv;
  if (o.Has(CKA_CLASS) && o.Class() != cls) return CKR_TEMPLATE_INCONSISTENT;
  if (o.Has(CKA_KEY_TYPE) && o.KeyType() != kt) return CKR_TEMPLATE_INCONSISTENT;
  o.SetUlong(CKA_CLASS, cls);
  o.SetUlong(CKA_KEY_TYPE, kt);
  for (const auto& [type, value] : o.attrs) {
    if (!IsValidAttribute(cls, kt, type)) return CKR_ATTRIBUTE_TYPE_INVALID;
    if (type == CKA_LOCAL || type == CKA_ALWAYS_SENSITIVE || type == CKA_NEVER_EXTRACTABLE ||
        type == CKA_KEY_GEN_MECHANISM) {
      return CKR_ATTRIBUTE_READ_ONLY;
    }
    if (IsSecretComponent(cls, type)) return CKR_TEMPLATE_INCONSISTENT;
  }
  return CKR_OK;
}

// Sets the attributes a key gets from the way it was made (§4.8 CKA_LOCAL, ALWAYS_SENSITIVE...).
void SetOrigin(Object& o, bool local, CK_MECHANISM_TYPE gen_mech) {
  o.SetBool(CKA_LOCAL, local);
  o.SetUlong(CKA_KEY_GEN_MECHANISM, local ? gen_mech : CK_UNAVAILABLE_INFORMATION);
  if (o.Class() != CKO_PUBLIC_KEY) {
    if (!o.Has(CKA_SENSITIVE)) o.SetBool(CKA_SENSITIVE, true);
    if (!o.Has(CKA_EXTRACTABLE)) o.SetBool(CKA_EXTRACTABLE, false);
    o.SetBool(CKA_ALWAYS_SENSITIVE, local && o.Bool(CKA_SENSITIVE, true));
    o.SetBool(CKA_NEVER_EXTRACTABLE, local && !o.Bool(CKA_EXTRACTABLE, false));
  }
  ApplyDefaults(o);
}

}  // namespace

CK_RV Token::OperationInit(Session& s, OpKind kind, const CK_MECHANISM& m, CK_OBJECT_HANDLE key) {
  std::optional<Operation>* slot = nullptr;
  switch (kind) {
    case OpKind::kSign: slot = &s.sign; break;
    case OpKind::kVerify: slot = &s.verify; break;
    case OpKind::kEncrypt: slot = &s.encrypt; break;
    case OpKind::kDecrypt: slot = &s.decrypt; break;
    case OpKind::kDigest: slot = &s.digest; break;
  }
  if (slot->has_value()) return CKR_OPERATION_ACTIVE;
  std::shared_ptr<Object> o;
  if (kind != OpKind::kDigest) {
    o = Visible(key);
    if (!o) return CKR_KEY_HANDLE_INVALID;
  }
  Operation op;
  CK_RV rv = InitOperation(kind, m, o.get(), op);
  if (rv != CKR_OK) return rv;
  *slot = std::move(op);
  return CKR_OK;
}

CK_RV Token::GenerateKeyPair(Session& s, const CK_MECHANISM& m, const CK_ATTRIBUTE* pub_tmpl,
                             CK_ULONG pub_count, const CK_ATTRIBUTE* priv_tmpl,
                             CK_ULONG priv_count, CK_OBJECT_HANDLE& pub_h,
                             CK_OBJECT_HANDLE& priv_h) {
  CK_KEY_TYPE kt;
  if (m.mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN) {
    kt = CKK_RSA;
  } else if (m.mechanism == CKM_EC_KEY_PAIR_GEN) {
    kt = CKK_EC;
  } else {
    return CKR_MECHANISM_INVALID;
  }
  if (m.ulParameterLen != 0) return CKR_MECHANISM_PARAM_INVALID;
  Object pub, priv;
  CK_RV rv = PrepareKeyTemplate(pub_tmpl, pub_count, CKO_PUBLIC_KEY, kt, pub);
  if (rv == CKR_OK) rv = PrepareKeyTemplate(priv_tmpl, priv_count, CKO_PRIVATE_KEY, kt, priv);
  if (rv != CKR_OK) return rv;
  ApplyDefaults(pub);
  if (!priv.Has(CKA_PRIVATE)) priv.SetBool(CKA_PRIVATE, true);
  if ((rv = CheckCreate(s, pub)) != CKR_OK || (rv = CheckCreate(s, priv)) != CKR_OK) return rv;

  Result<ossl::Ptr<EVP_PKEY>> pkey = InvalidArgument("");
  if (kt == CKK_RSA) {
    if (!pub.Has(CKA_MODULUS_BITS)) return CKR_TEMPLATE_INCOMPLETE;
    const CK_ULONG bits = pub.Ulong(CKA_MODULUS_BITS, 0);
    if (bits < 2048 || bits > 4096) return CKR_KEY_SIZE_RANGE;
    auto e = pub.attrs.find(CKA_PUBLIC_EXPONENT);
    std::vector<uint8_t> exponent = e == pub.attrs.end() ? std::vector<uint8_t>() : e->second;
    pkey = GenerateRsa(bits, exponent);
    if (!pkey) return CKR_TEMPLATE_INCONSISTENT;
    pub.attrs.erase(CKA_MODULUS_BITS);
  } else {
    const std::vector<uint8_t>* params = nullptr;
    if (auto it = pub.attrs.find(CKA_EC_PARAMS); it != pub.attrs.end()) {
      params = &it->second;
    } else if (auto jt = priv.attrs.find(CKA_EC_PARAMS); jt != priv.attrs.end()) {
      params = &jt->second;
    }
    if (params == nullptr) return CKR_TEMPLATE_INCOMPLETE;
    if (!CurveFromParams(*params)) return CKR_CURVE_NOT_SUPPORTED;
    pkey = GenerateEc(*params);
    if (!pkey) return CKR_FUNCTION_FAILED;
  }
  auto der = ToPkcs8(pkey->get());
  if (!der) return CKR_FUNCTION_FAILED;
  priv.secret = std::move(*der);
  priv.pkey = std::shared_ptr<EVP_PKEY>(pkey->release(), EVP_PKEY_free);
  if (!SetPublicAttributes(priv.pkey.get(), priv) || !SetPublicAttributes(priv.pkey.get(), pub)) {
    return CKR_FUNCTION_FAILED;
  }
  auto pub_key = PublicKeyFromAttributes(pub);
  if (!pub_key) return CKR_FUNCTION_FAILED;
  pub.pkey = std::shared_ptr<EVP_PKEY>(pub_key->release(), EVP_PKEY_free);
  SetOrigin(pub, true, m.mechanism);
  SetOrigin(priv, true, m.mechanism);
  // The public half carries the same CKA_ID/CKA_LABEL when only one template named them.
  for (auto t : {CKA_ID, CKA_LABEL}) {
    if (pub.attrs[t].empty() && !priv.attrs[t].empty()) pub.attrs[t] = priv.attrs[t];
    if (priv.attrs[t].empty() && !pub.attrs[t].empty()) priv.attrs[t] = pub.attrs[t];
  }
  if ((rv = AddObject(s, std::move(pub), pub_h)) != CKR_OK) return rv;
  if ((rv = AddObject(s, std::move(priv), priv_h)) != CKR_OK) {
    RemoveObject(pub_h);
    return rv;
  }
  return CKR_OK;
}

CK_RV Token::GenerateKey(Session& s, const CK_MECHANISM& m, const CK_ATTRIBUTE* tmpl,
                         CK_ULONG count, CK_OBJECT_HANDLE& out) {
  if (m.mechanism != CKM_AES_KEY_GEN) return CKR_MECHANISM_INVALID;
  if (m.ulParameterLen != 0) return CKR_MECHANISM_PARAM_INVALID;
  Object o;
  CK_RV rv = PrepareKeyTemplate(tmpl, count, CKO_SECRET_KEY, CKK_AES, o);
  if (rv != CKR_OK) return rv;
  if (!o.Has(CKA_VALUE_LEN)) return CKR_TEMPLATE_INCOMPLETE;
  const CK_ULONG len = o.Ulong(CKA_VALUE_LEN, 0);
  if (len != 16 && len != 24 && len != 32) return CKR_ATTRIBUTE_VALUE_INVALID;
  if (!o.Has(CKA_PRIVATE)) o.SetBool(CKA_PRIVATE, true);
  if ((rv = CheckCreate(s, o)) != CKR_OK) return rv;
  o.secret = SecretBytes(len);
  if (RAND_priv_bytes(o.secret.RevealMutable().data(), static_cast<int>(len)) != 1) {
    return CKR_FUNCTION_FAILED;
  }
  SetOrigin(o, true, m.mechanism);
  return AddObject(s, std::move(o), out);
}

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
  if (!wk->Bool(CKA_WRAP, false)) return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
  if (k->Class() != CKO_SECRET_KEY && k->Class() != CKO_PRIVATE_KEY) return CKR_KEY_NOT_WRAPPABLE;
  if (!k->Bool(CKA_EXTRACTABLE, false)) return CKR_KEY_UNEXTRACTABLE;
  std::vector<uint8_t> wrapped;
  if (m.mechanism == CKM_AES_KEY_WRAP || m.mechanism == CKM_AES_KEY_WRAP_PAD) {
    if (wk->Class() != CKO_SECRET_KEY || wk->KeyType() != CKK_AES) {
      return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
    }
    const auto* iv = static_cast<const uint8_t*>(m.pParameter);
    auto r = AesKeyWrap(wk->secret, k->secret.Reveal(), m.mechanism == CKM_AES_KEY_WRAP_PAD,
                        {iv, iv == nullptr ? 0 : m.ulParameterLen});
    if (!r) return r.error().code() == Code::kInvalidArgument ? CKR_KEY_SIZE_RANGE : CKR_FUNCTION_FAILED;
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
  if (!o.Has(CKA_PRIVATE)) o.SetBool(CKA_PRIVATE, true);
  if ((rv = CheckCreate(s, o)) != CKR_OK) return rv;

  SecretBytes plain;
  if (m.mechanism == CKM_AES_KEY_WRAP || m.mechanism == CKM_AES_KEY_WRAP_PAD) {
    if (uk->Class() != CKO_SECRET_KEY || uk->KeyType() != CKK_AES) {
      return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
    }
    const auto* iv = static_cast<const uint8_t*>(m.pParameter);
    auto r = AesKeyUnwrap(uk->secret, wrapped, m.mechanism == CKM_AES_KEY_WRAP_PAD,
                          {iv, iv == nullptr ? 0 : m.ulParameterLen});
    if (!r) {
      LogError("C_UnwrapKey: " + r.error().message());
      return r.error().code() == Code::kDataLoss ? CKR_WRAPPED_KEY_INVALID
                                                 : CKR_WRAPPED_KEY_LEN_RANGE;
    }
    plain = std::move(*r);
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
    // SoftHSM2 2.6.1 zero-pads the PKCS#8 to a multiple of 8 before CKM_AES_KEY_WRAP_PAD (instead of
    // leaving the padding to RFC 5649), so up to 7 zero bytes may follow the DER: drop exactly those.
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
  if ((rv = AddObject(s, std::move(o), out)) != CKR_OK) return rv;
  // As Intel's CTK does, a session unwrapping key is used once: the customer key pair and the
  // transport key of a key release vanish as soon as they have served.
  if (!uk->IsToken()) RemoveObject(unwrapping);
  return CKR_OK;
}

}  // namespace kmra::token
