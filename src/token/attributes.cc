#include "token/attributes.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>

#include "token/keys.h"

namespace kmra::token {
namespace {

bool In(CK_ATTRIBUTE_TYPE t, std::initializer_list<CK_ATTRIBUTE_TYPE> list) {
  return std::find(list.begin(), list.end(), t) != list.end();
}

bool IsBoolAttr(CK_ATTRIBUTE_TYPE t) {
  return In(t, {CKA_TOKEN,
                CKA_PRIVATE,
                CKA_MODIFIABLE,
                CKA_COPYABLE,
                CKA_DESTROYABLE,
                CKA_DERIVE,
                CKA_LOCAL,
                CKA_ENCRYPT,
                CKA_DECRYPT,
                CKA_SIGN,
                CKA_SIGN_RECOVER,
                CKA_VERIFY,
                CKA_VERIFY_RECOVER,
                CKA_WRAP,
                CKA_UNWRAP,
                CKA_SENSITIVE,
                CKA_EXTRACTABLE,
                CKA_ALWAYS_SENSITIVE,
                CKA_NEVER_EXTRACTABLE,
                CKA_TRUSTED,
                CKA_WRAP_WITH_TRUSTED,
                CKA_ALWAYS_AUTHENTICATE});
}

bool IsUlongAttr(CK_ATTRIBUTE_TYPE t) {
  return In(t, {CKA_CLASS, CKA_KEY_TYPE, CKA_CERTIFICATE_TYPE, CKA_MODULUS_BITS, CKA_VALUE_LEN,
                CKA_KEY_GEN_MECHANISM, CKA_CERTIFICATE_CATEGORY, CKA_JAVA_MIDP_SECURITY_DOMAIN,
                CKA_NAME_HASH_ALGORITHM});
}

constexpr CK_ATTRIBUTE_TYPE kRsaPrivateParts[] = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
                                                  CKA_PRIME_2,          CKA_EXPONENT_1,
                                                  CKA_EXPONENT_2,       CKA_COEFFICIENT};

// Reads a secret component from the key when the object lets it leave (not sensitive, extractable).
std::vector<uint8_t> SecretComponent(const Object& o, CK_ATTRIBUTE_TYPE t) {
  if (o.Class() == CKO_SECRET_KEY) {
    auto v = o.secret.Reveal();
    return {v.begin(), v.end()};
  }
  if (!o.pkey) return {};
  if (o.KeyType() == CKK_RSA) {
    const char* name = nullptr;
    switch (t) {
      case CKA_PRIVATE_EXPONENT:
        name = OSSL_PKEY_PARAM_RSA_D;
        break;
      case CKA_PRIME_1:
        name = OSSL_PKEY_PARAM_RSA_FACTOR1;
        break;
      case CKA_PRIME_2:
        name = OSSL_PKEY_PARAM_RSA_FACTOR2;
        break;
      case CKA_EXPONENT_1:
        name = OSSL_PKEY_PARAM_RSA_EXPONENT1;
        break;
      case CKA_EXPONENT_2:
        name = OSSL_PKEY_PARAM_RSA_EXPONENT2;
        break;
      case CKA_COEFFICIENT:
        name = OSSL_PKEY_PARAM_RSA_COEFFICIENT1;
        break;
      default:
        return {};
    }
    return RsaParam(o.pkey.get(), name);
  }
  if (o.KeyType() == CKK_EC && t == CKA_VALUE) {
    auto v = RsaParam(o.pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY);
    size_t field = static_cast<size_t>((KeyBits(o.pkey.get()) + 7) / 8);
    if (v.size() < field) v.insert(v.begin(), field - v.size(), 0);
    return v;
  }
  return {};
}

}  // namespace

bool IsSecretComponent(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type) {
  if (cls == CKO_SECRET_KEY) return type == CKA_VALUE;
  if (cls == CKO_PRIVATE_KEY) {
    return type == CKA_VALUE || std::find(std::begin(kRsaPrivateParts), std::end(kRsaPrivateParts),
                                          type) != std::end(kRsaPrivateParts);
  }
  return false;
}

bool IsValidAttribute(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE t) {
  if (In(t, {CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_LABEL, CKA_COPYABLE,
             CKA_DESTROYABLE})) {
    return true;
  }
  const bool key = cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
  if (key && In(t, {CKA_KEY_TYPE, CKA_ID, CKA_START_DATE, CKA_END_DATE, CKA_DERIVE, CKA_LOCAL,
                    CKA_KEY_GEN_MECHANISM, CKA_ALLOWED_MECHANISMS})) {
    return true;
  }
  switch (cls) {
    case CKO_PUBLIC_KEY:
      if (In(t, {CKA_SUBJECT, CKA_ENCRYPT, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_WRAP, CKA_TRUSTED,
                 CKA_WRAP_TEMPLATE, CKA_PUBLIC_KEY_INFO})) {
        return true;
      }
      if (kt == CKK_RSA) return In(t, {CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT});
      if (kt == CKK_EC) return In(t, {CKA_EC_PARAMS, CKA_EC_POINT});
      return false;
    case CKO_PRIVATE_KEY:
      if (In(t,
             {CKA_SUBJECT, CKA_SENSITIVE, CKA_DECRYPT, CKA_SIGN, CKA_SIGN_RECOVER, CKA_UNWRAP,
              CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED,
              CKA_UNWRAP_TEMPLATE, CKA_ALWAYS_AUTHENTICATE, CKA_PUBLIC_KEY_INFO})) {
        return true;
      }
      if (kt == CKK_RSA) {
        return In(t, {CKA_MODULUS, CKA_PUBLIC_EXPONENT}) || IsSecretComponent(cls, t);
      }
      // CKA_EC_POINT on the private key is an extension libp11 uses to match keys (PKCS11.md §A).
      if (kt == CKK_EC) return In(t, {CKA_EC_PARAMS, CKA_EC_POINT, CKA_VALUE});
      return false;
    case CKO_SECRET_KEY:
      return In(t, {CKA_SENSITIVE, CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP,
                    CKA_UNWRAP, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
                    CKA_CHECK_VALUE, CKA_WRAP_WITH_TRUSTED, CKA_TRUSTED, CKA_WRAP_TEMPLATE,
                    CKA_UNWRAP_TEMPLATE, CKA_VALUE, CKA_VALUE_LEN});
    case CKO_CERTIFICATE:
      return In(t, {CKA_CERTIFICATE_TYPE, CKA_TRUSTED, CKA_CERTIFICATE_CATEGORY, CKA_CHECK_VALUE,
                    CKA_START_DATE, CKA_END_DATE, CKA_PUBLIC_KEY_INFO, CKA_SUBJECT, CKA_ID,
                    CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_VALUE, CKA_URL,
                    CKA_HASH_OF_SUBJECT_PUBLIC_KEY, CKA_HASH_OF_ISSUER_PUBLIC_KEY,
                    CKA_JAVA_MIDP_SECURITY_DOMAIN, CKA_NAME_HASH_ALGORITHM});
    case CKO_DATA:
      return In(t, {CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE});
    default:
      return false;
  }
}

namespace {

CK_RV DecodeLevel(const CK_ATTRIBUTE* tmpl, CK_ULONG count, bool nested, AttrMap& out) {
  if (tmpl == nullptr && count > 0) return CKR_ARGUMENTS_BAD;
  for (CK_ULONG i = 0; i < count; ++i) {
    const CK_ATTRIBUTE& a = tmpl[i];
    if (a.pValue == nullptr && a.ulValueLen > 0) return CKR_ARGUMENTS_BAD;
    if (a.ulValueLen > (1u << 20)) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (IsBoolAttr(a.type) && a.ulValueLen != sizeof(CK_BBOOL)) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (IsUlongAttr(a.type) && a.ulValueLen != sizeof(CK_ULONG)) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (out.count(a.type) != 0) return CKR_TEMPLATE_INCONSISTENT;
    if (IsTemplateAttribute(a.type)) {
      // An array of CK_ATTRIBUTE (§4.1.3 CKF_ARRAY_ATTRIBUTE): kept as the values it names, never
      // as the caller's pointers. Templates do not nest.
      if (nested || a.ulValueLen % sizeof(CK_ATTRIBUTE) != 0) return CKR_ATTRIBUTE_VALUE_INVALID;
      AttrMap inner;
      CK_RV rv = DecodeLevel(static_cast<const CK_ATTRIBUTE*>(a.pValue),
                             a.ulValueLen / sizeof(CK_ATTRIBUTE), true, inner);
      if (rv != CKR_OK) return rv == CKR_ARGUMENTS_BAD ? CKR_ATTRIBUTE_VALUE_INVALID : rv;
      out.emplace(a.type, EncodeTemplateValue(inner));
      continue;
    }
    const auto* p = static_cast<const uint8_t*>(a.pValue);
    std::vector<uint8_t> v(p, p + a.ulValueLen);
    if (IsBoolAttr(a.type) && v[0] > 1) v[0] = CK_TRUE;  // any non-zero CK_BBOOL means true
    out.emplace(a.type, std::move(v));
  }
  return CKR_OK;
}

}  // namespace

bool IsTemplateAttribute(CK_ATTRIBUTE_TYPE type) {
  return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE || type == CKA_DERIVE_TEMPLATE;
}

CK_RV DecodeTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, AttrMap& out) {
  return DecodeLevel(tmpl, count, false, out);
}

CK_RV CopyOut(std::span<const uint8_t> value, CK_ATTRIBUTE& a) {
  if (a.pValue == nullptr) {
    a.ulValueLen = value.size();
  } else if (a.ulValueLen < value.size()) {
    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  } else {
    if (!value.empty()) std::memcpy(a.pValue, value.data(), value.size());
    a.ulValueLen = value.size();
  }
  return CKR_OK;
}

CK_RV GetAttributeValues(const Object& o, CK_ATTRIBUTE* tmpl, CK_ULONG count) {
  CK_RV rv = CKR_OK;
  const CK_OBJECT_CLASS cls = o.Class();
  const CK_KEY_TYPE kt = o.KeyType();
  for (CK_ULONG i = 0; i < count; ++i) {
    CK_ATTRIBUTE& a = tmpl[i];
    if (!IsValidAttribute(cls, kt, a.type)) {
      a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_ATTRIBUTE_TYPE_INVALID;
      continue;
    }
    if (IsTemplateAttribute(a.type)) {
      CK_RV r = GetTemplateValue(o.attrs, a);
      if (r != CKR_OK) rv = r;
      continue;
    }
    std::vector<uint8_t> value;
    if (IsSecretComponent(cls, a.type)) {
      if (o.Bool(CKA_SENSITIVE, true) || !o.Bool(CKA_EXTRACTABLE, false)) {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        rv = CKR_ATTRIBUTE_SENSITIVE;
        continue;
      }
      value = SecretComponent(o, a.type);
    } else {
      auto it = o.attrs.find(a.type);
      if (it != o.attrs.end()) value = it->second;
    }
    if (CopyOut(value, a) != CKR_OK) rv = CKR_BUFFER_TOO_SMALL;
    SecureWipe(value.data(), value.size());
  }
  return rv;
}

CK_RV CheckSettable(const Object& o, CK_ATTRIBUTE_TYPE t, const std::vector<uint8_t>& value) {
  if (!IsValidAttribute(o.Class(), o.KeyType(), t)) return CKR_ATTRIBUTE_TYPE_INVALID;
  if (!o.Bool(CKA_MODIFIABLE, true)) return CKR_ACTION_PROHIBITED;
  if (In(t, {CKA_LABEL, CKA_ID, CKA_SUBJECT, CKA_START_DATE, CKA_END_DATE, CKA_APPLICATION,
             CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE,
             CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER, CKA_ISSUER, CKA_SERIAL_NUMBER})) {
    return CKR_OK;
  }
  // One-way switches (§4.9): a key can become sensitive or non-extractable, never the reverse.
  if (t == CKA_SENSITIVE) return value[0] ? CKR_OK : CKR_ATTRIBUTE_READ_ONLY;
  if (t == CKA_EXTRACTABLE) return value[0] ? CKR_ATTRIBUTE_READ_ONLY : CKR_OK;
  if (t == CKA_EC_POINT && o.Class() == CKO_PRIVATE_KEY) return CKR_OK;
  return CKR_ATTRIBUTE_READ_ONLY;
}

bool Matches(const Object& o, const AttrMap& tmpl) {
  for (const auto& [type, value] : tmpl) {
    if (IsSecretComponent(o.Class(), type)) return false;
    auto it = o.attrs.find(type);
    if (it == o.attrs.end() || it->second != value) return false;
  }
  return true;
}

void ApplyDefaults(Object& o) {
  auto def_bool = [&](CK_ATTRIBUTE_TYPE t, bool v) {
    if (!o.Has(t)) o.SetBool(t, v);
  };
  const CK_OBJECT_CLASS cls = o.Class();
  const bool key = cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
  def_bool(CKA_TOKEN, false);
  def_bool(CKA_PRIVATE, cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY);
  def_bool(CKA_MODIFIABLE, true);
  def_bool(CKA_COPYABLE, false);
  def_bool(CKA_DESTROYABLE, true);
  if (!o.Has(CKA_LABEL)) o.attrs[CKA_LABEL] = {};
  if (key) {
    if (!o.Has(CKA_ID)) o.attrs[CKA_ID] = {};
    if (!o.Has(CKA_START_DATE)) o.attrs[CKA_START_DATE] = {};
    if (!o.Has(CKA_END_DATE)) o.attrs[CKA_END_DATE] = {};
    def_bool(CKA_DERIVE, false);
    def_bool(CKA_LOCAL, false);
    if (!o.Has(CKA_KEY_GEN_MECHANISM))
      o.SetUlong(CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    if (!o.Has(CKA_ALLOWED_MECHANISMS)) o.attrs[CKA_ALLOWED_MECHANISMS] = {};
  }
  if (cls == CKO_PUBLIC_KEY) {
    for (auto t : {CKA_ENCRYPT, CKA_VERIFY, CKA_WRAP}) def_bool(t, true);
    for (auto t : {CKA_VERIFY_RECOVER, CKA_TRUSTED}) def_bool(t, false);
    if (!o.Has(CKA_SUBJECT)) o.attrs[CKA_SUBJECT] = {};
  } else if (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) {
    def_bool(CKA_SENSITIVE, true);
    def_bool(CKA_EXTRACTABLE, false);
    for (auto t : {CKA_DECRYPT, CKA_SIGN, CKA_UNWRAP}) def_bool(t, true);
    def_bool(CKA_WRAP_WITH_TRUSTED, false);
    def_bool(CKA_ALWAYS_SENSITIVE, false);
    def_bool(CKA_NEVER_EXTRACTABLE, false);
    if (cls == CKO_PRIVATE_KEY) {
      def_bool(CKA_SIGN_RECOVER, false);
      def_bool(CKA_ALWAYS_AUTHENTICATE, false);
      if (!o.Has(CKA_SUBJECT)) o.attrs[CKA_SUBJECT] = {};
    } else {
      for (auto t : {CKA_ENCRYPT, CKA_VERIFY, CKA_WRAP}) def_bool(t, true);
      def_bool(CKA_TRUSTED, false);
      if (!o.Has(CKA_VALUE_LEN)) o.SetUlong(CKA_VALUE_LEN, o.secret.size());
    }
  } else if (cls == CKO_CERTIFICATE) {
    def_bool(CKA_TRUSTED, false);
    if (!o.Has(CKA_CERTIFICATE_CATEGORY)) o.SetUlong(CKA_CERTIFICATE_CATEGORY, 0);
    for (auto t : {CKA_SUBJECT, CKA_ID, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_VALUE}) {
      if (!o.Has(t)) o.attrs[t] = {};
    }
  }
}

CK_RV SetCheckValue(Object& o) {
  if (o.Class() != CKO_SECRET_KEY) return CKR_OK;
  const auto key = o.secret.Reveal();
  uint8_t out[EVP_MAX_MD_SIZE] = {};
  bool ok = false;
  if (o.KeyType() == CKK_AES) {
    const EVP_CIPHER* cipher = key.size() == 16   ? EVP_aes_128_ecb()
                               : key.size() == 24 ? EVP_aes_192_ecb()
                               : key.size() == 32 ? EVP_aes_256_ecb()
                                                  : nullptr;
    if (cipher == nullptr) return CKR_ATTRIBUTE_VALUE_INVALID;
    static constexpr uint8_t kZero[16] = {};
    auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
    int len = 0;
    ok = ctx && EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
         EVP_EncryptUpdate(ctx.get(), out, &len, kZero, sizeof kZero) == 1 && len == 16;
  } else if (o.KeyType() == CKK_GENERIC_SECRET) {
    unsigned int len = 0;
    ok = EVP_Digest(key.data(), key.size(), out, &len, EVP_sha1(), nullptr) == 1;
  } else {
    return CKR_OK;
  }
  if (!ok) {
    ossl::DrainErrors();
    SecureWipe(out, sizeof out);
    return CKR_FUNCTION_FAILED;
  }
  std::vector<uint8_t> cv(out, out + 3);
  SecureWipe(out, sizeof out);
  auto given = o.attrs.find(CKA_CHECK_VALUE);
  if (given != o.attrs.end()) {
    if (given->second.empty()) return CKR_OK;  // the creator asked for no check value
    return given->second == cv ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
  }
  o.attrs[CKA_CHECK_VALUE] = std::move(cv);
  return CKR_OK;
}

CK_ULONG ObjectSize(const Object& o) {
  CK_ULONG total = o.secret.size();
  for (const auto& [t, v] : o.attrs) total += 12 + v.size();
  return total;
}

}  // namespace kmra::token
