// PKCS#11 attribute rules (PKCS#11 v2.40 base spec §4): which attributes an object class has, how
// templates are decoded and checked, how C_GetAttributeValue answers and which values a caller may
// change. Not thread safe; the module serialises access.
#pragma once

#include <p11-kit/pkcs11.h>

#include "token/object.h"

namespace kmra::token {

// Whether `type` belongs to objects of `cls` / `key_type` (CKR_ATTRIBUTE_TYPE_INVALID otherwise).
bool IsValidAttribute(CK_OBJECT_CLASS cls, CK_KEY_TYPE key_type, CK_ATTRIBUTE_TYPE type);

// Whether the attribute is a secret component (private key parts, a secret key's CKA_VALUE): it is
// kept in Object::secret, never in Object::attrs.
bool IsSecretComponent(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type);

// Decodes a caller's template into a map. Checks the encodings of CK_BBOOL and CK_ULONG attributes
// (CKR_ATTRIBUTE_VALUE_INVALID), a NULL value with a length (CKR_ARGUMENTS_BAD) and duplicates
// (CKR_TEMPLATE_INCONSISTENT).
CK_RV DecodeTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, AttrMap& out);

// C_GetAttributeValue over `tmpl` (§5.7): fills every entry it can, marks the others with
// CK_UNAVAILABLE_INFORMATION and returns the error of the last one that failed (sensitive,
// invalid type, buffer too small), CKR_OK when all succeeded.
CK_RV GetAttributeValues(const Object& o, CK_ATTRIBUTE* tmpl, CK_ULONG count);

// Whether C_SetAttributeValue may set `type` to `value` on `o`.
CK_RV CheckSettable(const Object& o, CK_ATTRIBUTE_TYPE type, const std::vector<uint8_t>& value);

// Whether `o` matches every attribute of a C_FindObjectsInit template (secret values never match).
bool Matches(const Object& o, const AttrMap& tmpl);

// Sets the defaults of attributes absent from a new object (CKA_TOKEN=false, CKA_PRIVATE=true for
// private and secret keys, CKA_MODIFIABLE=true, usage flags false, CKA_SENSITIVE=true for
// private keys...).
void ApplyDefaults(Object& o);

// Size C_GetObjectSize reports (the encoded size of the object).
CK_ULONG ObjectSize(const Object& o);

}  // namespace kmra::token
