// Token: object management (PKCS#11 v2.40 §5.7) and object searches (§5.7 C_FindObjects*).
#include <algorithm>
#include <cstring>
#include <iterator>

#include "token/attributes.h"
#include "token/custody.h"
#include "token/keys.h"
#include "token/log.h"
#include "token/token.h"

namespace kmra::token {
namespace {

constexpr CK_ATTRIBUTE_TYPE kNaming[] = {CKA_LABEL, CKA_ID, CKA_SUBJECT, CKA_START_DATE,
                                         CKA_END_DATE};

// What C_SetAttributeValue may change on a key of the attestation path: nothing on an attestation
// or transport key; only naming attributes on a released key; the custody mark never.
CK_RV CheckCustodyChanges(const Object& o, const AttrMap& changes) {
  const CK_ULONG custody = o.Custody();
  for (const auto& [type, value] : changes) {
    if (type == CKA_KMRA_CUSTODY) {
      return RefuseCustody("C_SetAttributeValue", CKR_ATTRIBUTE_READ_ONLY,
                           "the custody mark is set by the token only");
    }
    if (custody == KMRA_CUSTODY_ATTESTATION || custody == KMRA_CUSTODY_TRANSPORT) {
      return RefuseCustody("C_SetAttributeValue", CKR_ACTION_PROHIBITED,
                           "an attestation or transport key cannot be changed");
    }
    if (custody == KMRA_CUSTODY_RELEASED &&
        std::find_if(std::begin(kNaming), std::end(kNaming),
                     [t = type](CK_ATTRIBUTE_TYPE n) { return n == t; }) == std::end(kNaming)) {
      return RefuseCustody("C_SetAttributeValue", CKR_ATTRIBUTE_READ_ONLY,
                           "a released key's attributes other than its names cannot be changed");
    }
  }
  return CKR_OK;
}

}  // namespace

std::shared_ptr<Object> Token::Visible(CK_OBJECT_HANDLE h) {
  auto it = objects_.find(h);
  if (it == objects_.end()) return nullptr;
  if (it->second->IsPrivate() && login_ != LoginState::kUser) return nullptr;
  return it->second;
}

CK_RV Token::CheckCreate(const Session& s, const Object& o) const {
  if (o.IsToken() && !s.ReadWrite()) return CKR_SESSION_READ_ONLY;
  if (o.IsPrivate() && login_ != LoginState::kUser) return CKR_USER_NOT_LOGGED_IN;
  return CKR_OK;
}

CK_RV Token::BumpGeneration() {
  meta_->generation++;
  if (auto st = store_->WriteMeta(*meta_); !st) {
    LogError(st.error().ToString());
    return CKR_DEVICE_ERROR;
  }
  return CKR_OK;
}

CK_RV Token::Persist(const Object& o) {
  auto lock = store_->LockExclusive();
  if (!lock) return CKR_DEVICE_ERROR;
  RefreshLocked();
  if (!meta_) return CKR_TOKEN_NOT_RECOGNIZED;
  if (auto st = store_->WriteObject(o); !st) {
    LogError(st.error().ToString());
    return CKR_DEVICE_ERROR;
  }
  return BumpGeneration();
}

CK_RV Token::AddObject(Session& s, Object o, CK_OBJECT_HANDLE& out) {
  if (CK_RV rv = SetCheckValue(o); rv != CKR_OK) return rv;  // every new secret key (§4.10)
  o.uid = NewUid();
  if (o.uid.empty()) return CKR_FUNCTION_FAILED;
  if (o.IsToken()) {
    o.owner = 0;
    CK_RV rv = Persist(o);
    if (rv != CKR_OK) return rv;
    out = next_object_++;
    token_handles_[o.uid] = out;
  } else {
    o.owner = s.handle;
    out = next_object_++;
  }
  objects_[out] = std::make_shared<Object>(std::move(o));
  return CKR_OK;
}

CK_RV Token::RemoveObject(CK_OBJECT_HANDLE h) {
  auto it = objects_.find(h);
  if (it == objects_.end()) return CKR_OBJECT_HANDLE_INVALID;
  if (it->second->IsToken()) {
    const std::string uid = it->second->uid;
    auto lock = store_->LockExclusive();
    if (!lock) return CKR_DEVICE_ERROR;
    RefreshLocked();  // never write a stale record over another process's change
    if (!meta_) return CKR_TOKEN_NOT_RECOGNIZED;
    if (auto st = store_->DeleteObject(uid); !st) {
      LogError(st.error().ToString());
      return CKR_DEVICE_ERROR;
    }
    CK_RV rv = BumpGeneration();
    token_handles_.erase(uid);
    objects_.erase(h);
    return rv;
  }
  objects_.erase(it);
  return CKR_OK;
}

CK_RV Token::CreateObject(Session& s, const CK_ATTRIBUTE* tmpl, CK_ULONG count,
                          CK_OBJECT_HANDLE& out) {
  AttrMap attrs;
  CK_RV rv = DecodeTemplate(tmpl, count, attrs);
  if (rv != CKR_OK) return rv;
  Object o;
  o.attrs = std::move(attrs);
  if (!o.Has(CKA_CLASS)) return CKR_TEMPLATE_INCOMPLETE;
  const CK_OBJECT_CLASS cls = o.Class();
  const bool key = cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
  if (!key && cls != CKO_DATA && cls != CKO_CERTIFICATE) return CKR_ATTRIBUTE_VALUE_INVALID;
  if (key && !o.Has(CKA_KEY_TYPE)) return CKR_TEMPLATE_INCOMPLETE;
  if (cls == CKO_CERTIFICATE) {
    if (!o.Has(CKA_CERTIFICATE_TYPE)) return CKR_TEMPLATE_INCOMPLETE;
    if (o.Ulong(CKA_CERTIFICATE_TYPE, 0) != CKC_X_509) return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  const CK_KEY_TYPE kt = o.KeyType();
  if (key && kt != CKK_RSA && kt != CKK_EC && kt != CKK_AES && kt != CKK_GENERIC_SECRET) {
    return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  if (cls == CKO_SECRET_KEY ? (kt != CKK_AES && kt != CKK_GENERIC_SECRET)
                            : (key && kt != CKK_RSA && kt != CKK_EC)) {
    return CKR_TEMPLATE_INCONSISTENT;
  }
  AttrMap secret_parts;
  for (auto it = o.attrs.begin(); it != o.attrs.end();) {
    if (it->first == CKA_KMRA_CUSTODY) return CKR_ATTRIBUTE_READ_ONLY;
    if (!IsValidAttribute(cls, kt, it->first)) return CKR_ATTRIBUTE_TYPE_INVALID;
    if (it->first == CKA_LOCAL || it->first == CKA_ALWAYS_SENSITIVE ||
        it->first == CKA_NEVER_EXTRACTABLE || it->first == CKA_KEY_GEN_MECHANISM) {
      return CKR_ATTRIBUTE_READ_ONLY;
    }
    if (IsSecretComponent(cls, it->first)) {
      secret_parts.insert(*it);
      SecureWipe(it->second.data(), it->second.size());
      it = o.attrs.erase(it);
    } else {
      ++it;
    }
  }
  rv = CheckCreate(s, o);
  if (rv != CKR_OK) return rv;
  if (cls == CKO_PRIVATE_KEY) {
    auto pkey = PrivateKeyFromComponents(kt, secret_parts, o.attrs);
    for (auto& [t, v] : secret_parts) SecureWipe(v.data(), v.size());
    if (!pkey) return CKR_TEMPLATE_INCONSISTENT;
    auto der = ToPkcs8(pkey->get());
    if (!der) return CKR_FUNCTION_FAILED;
    o.secret = std::move(*der);
    o.pkey = std::shared_ptr<EVP_PKEY>(pkey->release(), EVP_PKEY_free);
    if (!SetPublicAttributes(o.pkey.get(), o)) return CKR_TEMPLATE_INCONSISTENT;
  } else if (cls == CKO_SECRET_KEY) {
    auto it = secret_parts.find(CKA_VALUE);
    if (it == secret_parts.end()) return CKR_TEMPLATE_INCOMPLETE;
    const size_t n = it->second.size();
    if (kt == CKK_AES && n != 16 && n != 24 && n != 32) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (n == 0) return CKR_ATTRIBUTE_VALUE_INVALID;
    o.secret = SecretBytes(it->second);
    SecureWipe(it->second.data(), n);
    o.SetUlong(CKA_VALUE_LEN, n);
  } else if (cls == CKO_PUBLIC_KEY) {
    auto pkey = PublicKeyFromAttributes(o);
    if (!pkey) return CKR_TEMPLATE_INCOMPLETE;
    o.pkey = std::shared_ptr<EVP_PKEY>(pkey->release(), EVP_PKEY_free);
    if (!SetPublicAttributes(o.pkey.get(), o)) return CKR_TEMPLATE_INCONSISTENT;
  }
  ApplyDefaults(o);
  return AddObject(s, std::move(o), out);
}

CK_RV Token::DestroyObject(Session& s, CK_OBJECT_HANDLE h) {
  auto o = Visible(h);
  if (!o) return CKR_OBJECT_HANDLE_INVALID;
  if (o->IsToken() && !s.ReadWrite()) return CKR_SESSION_READ_ONLY;
  if (!o->Bool(CKA_DESTROYABLE, true)) return CKR_ACTION_PROHIBITED;
  return RemoveObject(h);
}

CK_RV Token::GetAttributeValue(Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE* tmpl, CK_ULONG count) {
  auto o = Visible(h);
  if (!o) return CKR_OBJECT_HANDLE_INVALID;
  const CK_OBJECT_CLASS cls = o->Class();
  const bool key = cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
  // Entry by entry, so the custody mark (a vendor attribute) is answered here; the result is the
  // error of the last entry that failed, as GetAttributeValues gives for a whole template.
  CK_RV rv = CKR_OK;
  for (CK_ULONG i = 0; i < count; ++i) {
    CK_ATTRIBUTE& a = tmpl[i];
    CK_RV one = CKR_OK;
    if (a.type == CKA_KMRA_CUSTODY && key) {
      const CK_ULONG custody = o->Custody();
      if (a.pValue != nullptr && a.ulValueLen < sizeof custody) {
        one = CKR_BUFFER_TOO_SMALL;
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      } else {
        if (a.pValue != nullptr) std::memcpy(a.pValue, &custody, sizeof custody);
        a.ulValueLen = sizeof custody;
      }
    } else if (IsSecretComponent(cls, a.type) && InCustody(*o)) {
      RefuseCustody("C_GetAttributeValue", CKR_ATTRIBUTE_SENSITIVE,
                    "the key is on the attestation path (CKA_KMRA_CUSTODY); its secret components "
                    "are never read");
      a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      one = CKR_ATTRIBUTE_SENSITIVE;
    } else {
      one = GetAttributeValues(*o, &a, 1);
      // A secret component that was handed out: the quote mechanism no longer vouches for the key.
      if (one == CKR_OK && a.pValue != nullptr && IsSecretComponent(cls, a.type))
        o->revealed = true;
    }
    if (one != CKR_OK) rv = one;
  }
  return rv;
}

CK_RV Token::SetAttributeValue(Session& s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE* tmpl,
                               CK_ULONG count) {
  auto o = Visible(h);
  if (!o) return CKR_OBJECT_HANDLE_INVALID;
  if (o->IsToken() && !s.ReadWrite()) return CKR_SESSION_READ_ONLY;
  AttrMap changes;
  CK_RV rv = DecodeTemplate(tmpl, count, changes);
  if (rv != CKR_OK) return rv;
  if ((rv = CheckCustodyChanges(*o, changes)) != CKR_OK) return rv;
  for (const auto& [type, value] : changes) {
    rv = CheckSettable(*o, type, value);
    if (rv != CKR_OK) return rv;
  }
  Object updated = *o;
  for (auto& [type, value] : changes) updated.attrs[type] = value;
  if (updated.IsToken()) {
    rv = Persist(updated);
    if (rv != CKR_OK) return rv;
  }
  // Persist may have reloaded the token objects; update whatever the handle names now.
  auto it = objects_.find(h);
  if (it != objects_.end()) *it->second = std::move(updated);
  return CKR_OK;
}

CK_RV Token::GetObjectSize(Session& s, CK_OBJECT_HANDLE h, CK_ULONG& size) {
  auto o = Visible(h);
  if (!o) return CKR_OBJECT_HANDLE_INVALID;
  size = ObjectSize(*o);
  return CKR_OK;
}

CK_RV Token::FindObjectsInit(Session& s, const CK_ATTRIBUTE* tmpl, CK_ULONG count) {
  if (s.find.active) return CKR_OPERATION_ACTIVE;
  AttrMap match;
  CK_RV rv = DecodeTemplate(tmpl, count, match);
  if (rv == CKR_TEMPLATE_INCONSISTENT) rv = CKR_OK;  // duplicates simply match nothing twice
  if (rv != CKR_OK) return rv;
  Refresh();
  s.find = FindState();
  s.find.active = true;
  for (const auto& [h, o] : objects_) {
    if (o->IsPrivate() && login_ != LoginState::kUser) continue;
    if (Matches(*o, match)) s.find.results.push_back(h);
  }
  return CKR_OK;
}

}  // namespace kmra::token
