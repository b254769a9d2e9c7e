#include "token/custody.h"

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "kmra/pkcs11_vendor.h"
#include "token/log.h"

namespace kmra::token {
namespace {

std::string RvName(CK_RV rv) {
  switch (rv) {
    case CKR_ACTION_PROHIBITED:
      return "CKR_ACTION_PROHIBITED";
    case CKR_ATTRIBUTE_READ_ONLY:
      return "CKR_ATTRIBUTE_READ_ONLY";
    case CKR_ATTRIBUTE_SENSITIVE:
      return "CKR_ATTRIBUTE_SENSITIVE";
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
      return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    case CKR_KEY_NOT_WRAPPABLE:
      return "CKR_KEY_NOT_WRAPPABLE";
    case CKR_KEY_TYPE_INCONSISTENT:
      return "CKR_KEY_TYPE_INCONSISTENT";
    case CKR_KEY_UNEXTRACTABLE:
      return "CKR_KEY_UNEXTRACTABLE";
    case CKR_MECHANISM_INVALID:
      return "CKR_MECHANISM_INVALID";
    case CKR_TEMPLATE_INCONSISTENT:
      return "CKR_TEMPLATE_INCONSISTENT";
    default:
      return "CK_RV " + std::to_string(rv);
  }
}

const char* AttrName(CK_ATTRIBUTE_TYPE t) {
  switch (t) {
    case CKA_TOKEN:
      return "CKA_TOKEN";
    case CKA_PRIVATE:
      return "CKA_PRIVATE";
    case CKA_MODIFIABLE:
      return "CKA_MODIFIABLE";
    case CKA_COPYABLE:
      return "CKA_COPYABLE";
    case CKA_SENSITIVE:
      return "CKA_SENSITIVE";
    case CKA_EXTRACTABLE:
      return "CKA_EXTRACTABLE";
    case CKA_ENCRYPT:
      return "CKA_ENCRYPT";
    case CKA_DECRYPT:
      return "CKA_DECRYPT";
    case CKA_SIGN:
      return "CKA_SIGN";
    case CKA_SIGN_RECOVER:
      return "CKA_SIGN_RECOVER";
    case CKA_VERIFY:
      return "CKA_VERIFY";
    case CKA_WRAP:
      return "CKA_WRAP";
    case CKA_UNWRAP:
      return "CKA_UNWRAP";
    case CKA_DERIVE:
      return "CKA_DERIVE";
    case CKA_WRAP_WITH_TRUSTED:
      return "CKA_WRAP_WITH_TRUSTED";
    default:
      return "attribute";
  }
}

struct Forced {
  CK_ATTRIBUTE_TYPE type;
  bool value;
};

// Sets each flag; one debug line per value the caller had asked otherwise.
void Force(Object& o, std::initializer_list<Forced> flags, const char* what) {
  for (const Forced& f : flags) {
    if (o.Has(f.type) && o.Bool(f.type, f.value) != f.value) {
      LogDebug(std::string("custody: ") + what + ": " + AttrName(f.type) + " overridden to " +
               (f.value ? "true" : "false"));
    }
    o.SetBool(f.type, f.value);
  }
}

void SetAllowed(Object& o, std::initializer_list<CK_MECHANISM_TYPE> mechs) {
  std::vector<uint8_t> v(mechs.size() * sizeof(CK_MECHANISM_TYPE));
  size_t i = 0;
  for (CK_MECHANISM_TYPE m : mechs) std::memcpy(v.data() + sizeof m * i++, &m, sizeof m);
  o.attrs[CKA_ALLOWED_MECHANISMS] = std::move(v);
}

}  // namespace

CK_RV RefuseCustody(std::string_view call, CK_RV rv, std::string_view why) {
  LogError("custody: " + std::string(call) + " refused (" + RvName(rv) + "): " + std::string(why));
  return rv;
}

void MakeAttestationKey(Object& priv) {
  Force(priv,
        {{CKA_PRIVATE, true},
         {CKA_SENSITIVE, true},
         {CKA_EXTRACTABLE, false},
         {CKA_DECRYPT, false},
         {CKA_SIGN, false},
         {CKA_SIGN_RECOVER, false},
         {CKA_DERIVE, false},
         {CKA_UNWRAP, true},
         {CKA_MODIFIABLE, false},
         {CKA_COPYABLE, false},
         {CKA_WRAP_WITH_TRUSTED, true}},
        "the quoted key pair's private half");
  SetAllowed(priv, {CKM_RSA_PKCS_OAEP});
  priv.SetUlong(CKA_KMRA_CUSTODY, KMRA_CUSTODY_ATTESTATION);
}

CK_RV PrepareCustodyTarget(CK_ULONG unwrapping_custody, Object& o) {
  const CK_OBJECT_CLASS cls = o.Class();
  const CK_KEY_TYPE kt = o.KeyType();
  if (unwrapping_custody == KMRA_CUSTODY_ATTESTATION) {
    if (cls != CKO_SECRET_KEY || kt != CKK_AES) {
      return RefuseCustody("C_UnwrapKey", CKR_TEMPLATE_INCONSISTENT,
                           "an attestation key unwraps only an AES transport key (CKO_SECRET_KEY, "
                           "CKK_AES)");
    }
    Force(o,
          {{CKA_TOKEN, false},
           {CKA_PRIVATE, true},
           {CKA_SENSITIVE, true},
           {CKA_EXTRACTABLE, false},
           {CKA_ENCRYPT, false},
           {CKA_DECRYPT, false},
           {CKA_SIGN, false},
           {CKA_VERIFY, false},
           {CKA_WRAP, false},
           {CKA_DERIVE, false},
           {CKA_UNWRAP, true},
           {CKA_MODIFIABLE, false},
           {CKA_COPYABLE, false},
           {CKA_WRAP_WITH_TRUSTED, true}},
          "the transport key");
    SetAllowed(o, {CKM_AES_KEY_WRAP_PAD, CKM_AES_GCM});
    o.SetUlong(CKA_KMRA_CUSTODY, KMRA_CUSTODY_TRANSPORT);
    return CKR_OK;
  }
  if (cls != CKO_PRIVATE_KEY || (kt != CKK_RSA && kt != CKK_EC)) {
    return RefuseCustody("C_UnwrapKey", CKR_TEMPLATE_INCONSISTENT,
                         "a transport key unwraps only an RSA or EC private key");
  }
  Force(o,
        {{CKA_PRIVATE, true},
         {CKA_SENSITIVE, true},
         {CKA_EXTRACTABLE, false},
         {CKA_UNWRAP, false},
         {CKA_DERIVE, false},
         {CKA_COPYABLE, false},
         {CKA_WRAP_WITH_TRUSTED, true}},
        "the released key");
  o.SetUlong(CKA_KMRA_CUSTODY, KMRA_CUSTODY_RELEASED);
  return CKR_OK;
}

void FinishCustodyTarget(Object& o) {
  o.SetBool(CKA_ALWAYS_SENSITIVE, true);
  o.SetBool(CKA_NEVER_EXTRACTABLE, true);
}

bool AllowsMechanism(const Object& o, CK_MECHANISM_TYPE mech) {
  auto it = o.attrs.find(CKA_ALLOWED_MECHANISMS);
  if (it == o.attrs.end() || it->second.empty()) return true;
  const auto& v = it->second;
  for (size_t i = 0; i + sizeof mech <= v.size(); i += sizeof mech) {
    CK_MECHANISM_TYPE m;
    std::memcpy(&m, v.data() + i, sizeof m);
    if (m == mech) return true;
  }
  return false;
}

}  // namespace kmra::token
