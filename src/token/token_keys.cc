// Token: operation setup and key generation (PKCS#11 v2.40 §5.14); wrapping is in token_wrap.cc.
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "kmra/pkcs11_vendor.h"
#include "token/attributes.h"
#include "token/custody.h"
#include "token/key_template.h"
#include "token/keys.h"
#include "token/log.h"
#include "token/mechanisms.h"
#include "token/token.h"

namespace kmra::token {

CK_RV PrepareKeyTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, CK_OBJECT_CLASS cls,
                         CK_KEY_TYPE kt, Object& o) {
  CK_RV rv = DecodeTemplate(tmpl, count, o.attrs);
  if (rv != CKR_OK) return rv;
  if (o.Has(CKA_CLASS) && o.Class() != cls) return CKR_TEMPLATE_INCONSISTENT;
  if (o.Has(CKA_KEY_TYPE) && o.KeyType() != kt) return CKR_TEMPLATE_INCONSISTENT;
  o.SetUlong(CKA_CLASS, cls);
  o.SetUlong(CKA_KEY_TYPE, kt);
  for (const auto& [type, value] : o.attrs) {
    if (type == CKA_KMRA_CUSTODY) return CKR_ATTRIBUTE_READ_ONLY;
    if (!IsValidAttribute(cls, kt, type)) return CKR_ATTRIBUTE_TYPE_INVALID;
    if (type == CKA_LOCAL || type == CKA_ALWAYS_SENSITIVE || type == CKA_NEVER_EXTRACTABLE ||
        type == CKA_KEY_GEN_MECHANISM) {
      return CKR_ATTRIBUTE_READ_ONLY;
    }
    if (IsSecretComponent(cls, type)) return CKR_TEMPLATE_INCONSISTENT;
  }
  return CKR_OK;
}

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

CK_RV Token::OperationInit(Session& s, OpKind kind, const CK_MECHANISM& m, CK_OBJECT_HANDLE key) {
  std::optional<Operation>& slot = s.Op(kind);
  if (slot.has_value()) return CKR_OPERATION_ACTIVE;
  std::shared_ptr<Object> o;
  if (kind != OpKind::kDigest) {
    o = Visible(key);
    if (!o) return CKR_KEY_HANDLE_INVALID;
    // An attestation key only unwraps and a transport key only unwraps (docs/token.md, custody).
    const CK_ULONG custody = o->Custody();
    if (custody == KMRA_CUSTODY_ATTESTATION || custody == KMRA_CUSTODY_TRANSPORT) {
      return RefuseCustody(
          "C_SignInit/C_VerifyInit/C_EncryptInit/C_DecryptInit", CKR_KEY_FUNCTION_NOT_PERMITTED,
          custody == KMRA_CUSTODY_ATTESTATION
              ? "the key is the private half of a quoted key pair; it only unwraps the SWK"
              : "the key is a transport key (SWK); it only unwraps the released key");
    }
    if (!AllowsMechanism(*o, m.mechanism)) return CKR_MECHANISM_INVALID;
  }
  Operation op;
  CK_RV rv = InitOperation(kind, m, o.get(), op);
  if (rv != CKR_OK) return rv;
  slot = std::move(op);
  return CKR_OK;
}

CK_RV Token::GenerateKeyPair(Session& s, const CK_MECHANISM& m, const CK_ATTRIBUTE* pub_tmpl,
                             CK_ULONG pub_count, const CK_ATTRIBUTE* priv_tmpl, CK_ULONG priv_count,
                             CK_OBJECT_HANDLE& pub_h, CK_OBJECT_HANDLE& priv_h) {
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
  // The quote mechanism vouches only for pairs it can tell were made together here.
  pub.pair = priv.pair = NewUid();
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

}  // namespace kmra::token
