// A PKCS#11 object inside the token: its attributes, its secret value and its parsed key.
//
// Non-secret attributes live in `attrs` in their PKCS#11 encoding (CK_BBOOL = 1 byte, CK_ULONG =
// native unsigned long). The secret part never appears in `attrs`: a private key's PKCS#8
// PrivateKeyInfo DER or a secret key's raw value lives in `secret` (wiped on free).
// Objects are not thread safe; the module serialises access.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/ossl.h"
#include "kmra/pkcs11_vendor.h"

namespace kmra::token {

// Attribute type -> encoded value. Values are wiped when the map goes away: a decoded template
// can hold secret components (CKA_VALUE, private key parts) until they are moved to `secret`, and
// every error path must drop them without leaving copies in freed memory.
class AttrMap : public std::map<CK_ATTRIBUTE_TYPE, std::vector<uint8_t>> {
 public:
  using std::map<CK_ATTRIBUTE_TYPE, std::vector<uint8_t>>::map;
  AttrMap() = default;
  AttrMap(const AttrMap&) = default;
  AttrMap(AttrMap&&) noexcept = default;
  AttrMap& operator=(const AttrMap&) = default;
  AttrMap& operator=(AttrMap&&) noexcept = default;
  ~AttrMap() {
    for (auto& [type, value] : *this) SecureWipe(value.data(), value.size());
  }
};

struct Object {
  std::string uid;                 // 32 lower-case hex characters; the file name of token objects
  AttrMap attrs;                   // every non-secret attribute
  SecretBytes secret;              // PKCS#8 DER (private keys) or raw key bytes (secret keys)
  std::shared_ptr<EVP_PKEY> pkey;  // parsed asymmetric key (private or public); null for others
  CK_SESSION_HANDLE owner = 0;     // session objects: the creating session; 0 for token objects
  bool quote_used = false;         // CTK: a session RSA public key gives one quote only
  std::vector<uint8_t> pending_quote;  // CTK: output computed by a size query, returned next
  std::vector<uint8_t> pending_nonce;  // the nonce pending_quote was made for
  std::string pair;       // generated key pairs: a random id both halves share (memory only)
  bool revealed = false;  // a secret component was read or the key was wrapped out

  CK_OBJECT_CLASS Class() const { return Ulong(CKA_CLASS, CK_UNAVAILABLE_INFORMATION); }
  CK_KEY_TYPE KeyType() const { return Ulong(CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION); }
  bool IsToken() const { return Bool(CKA_TOKEN, false); }
  bool IsPrivate() const { return Bool(CKA_PRIVATE, false); }
  // KMRA_CUSTODY_* (pkcs11_vendor.h): set by the token only, read-only for callers.
  CK_ULONG Custody() const { return Ulong(CKA_KMRA_CUSTODY, KMRA_CUSTODY_NONE); }

  // Value of a CK_BBOOL / CK_ULONG attribute, or `def` when absent or malformed.
  bool Bool(CK_ATTRIBUTE_TYPE type, bool def) const;
  CK_ULONG Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG def) const;
  void SetBool(CK_ATTRIBUTE_TYPE type, bool value);
  void SetUlong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  void SetBytes(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value);
  bool Has(CK_ATTRIBUTE_TYPE type) const { return attrs.count(type) != 0; }
};

// Encodes an object (attributes and secret) for sealing. The result holds secret bytes.
SecretBytes SerializeObject(const Object& object);

// Decodes SerializeObject's output; the key is re-parsed from `secret` or the public attributes.
Result<Object> DeserializeObject(std::span<const uint8_t> bytes, const std::string& uid);

// A fresh random uid (128 bits, hex); empty when the random number generator fails.
std::string NewUid();

}  // namespace kmra::token
