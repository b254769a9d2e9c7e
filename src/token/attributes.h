// PKCS#11 attribute rules (PKCS#11 v2.40 base spec §4): which attributes an object class has, how
// templates are decoded and checked, how C_GetAttributeValue answers and which values a caller may
// change. Not thread safe; the module serialises access.
#pragma once

#include <p11-kit/pkcs11.h>

#include <span>
#include <vector>

#include "token/object.h"

namespace kmra::token {

// Whether `type` belongs to objects of `cls` / `key_type` (CKR_ATTRIBUTE_TYPE_INVALID otherwise).
bool IsValidAttribute(CK_OBJECT_CLASS cls, CK_KEY_TYPE key_type, CK_ATTRIBUTE_TYPE type);

// Whether the attribute is a secret component (private key parts, a secret key's CKA_VALUE): it is
// kept in Object::secret, never in Object::attrs.
bool IsSecretComponent(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type);

// Decodes a caller's template into a map. Checks the encodings of CK_BBOOL and CK_ULONG attributes
// (CKR_ATTRIBUTE_VALUE_INVALID), a NULL value with a length (CKR_ARGUMENTS_BAD) and duplicates
// (CKR_TEMPLATE_INCONSISTENT). Template attributes are decoded too and stored as values
// (EncodeTemplateValue); a nested template or a length that is not a whole number of
// CK_ATTRIBUTEs is CKR_ATTRIBUTE_VALUE_INVALID.
CK_RV DecodeTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, AttrMap& out);

// Whether `type` is an array of CK_ATTRIBUTE (CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
// CKA_DERIVE_TEMPLATE).
bool IsTemplateAttribute(CK_ATTRIBUTE_TYPE type);

// The stored form of a template attribute (attributes_array.cc) and its decoding (an empty value
// is an empty template; CKR_GENERAL_ERROR for a malformed one).
std::vector<uint8_t> EncodeTemplateValue(const AttrMap& inner);
CK_RV DecodeTemplateValue(std::span<const uint8_t> stored, AttrMap& out);

// C_GetAttributeValue of one template attribute of `attrs` (§5.7, CKF_ARRAY_ATTRIBUTE): the size
// of the CK_ATTRIBUTE array for a NULL pValue; else types, and lengths or values in the caller's
// elements.
CK_RV GetTemplateValue(const AttrMap& attrs, CK_ATTRIBUTE& a);

// Computes CKA_CHECK_VALUE of a secret key (AES: the first 3 bytes of AES-ECB of a zero block;
// generic secret: the first 3 bytes of SHA-1 of the value) or checks the one its template gave
// (CKR_ATTRIBUTE_VALUE_INVALID when it differs; an empty one asks for none). Other objects: CKR_OK.
CK_RV SetCheckValue(Object& o);

// C_GetAttributeValue over `tmpl` (§5.7): fills every entry it can, marks the others with
// CK_UNAVAILABLE_INFORMATION and returns the error of the last one that failed (sensitive,
// invalid type, buffer too small), CKR_OK when all succeeded.
CK_RV GetAttributeValues(const Object& o, CK_ATTRIBUTE* tmpl, CK_ULONG count);

// Gives one value to a caller's attribute (§5.7): its length for a NULL pValue, else the bytes,
// or CK_UNAVAILABLE_INFORMATION and CKR_BUFFER_TOO_SMALL when they do not fit.
CK_RV CopyOut(std::span<const uint8_t> value, CK_ATTRIBUTE& a);

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
