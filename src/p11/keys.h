// Key management in an HSM through PKCS#11: generate, import, find, read the public key, delete.
//
// Keys made for release are created so that they can leave the HSM *only wrapped*: the private key has
// CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE (never readable in clear) and CKA_EXTRACTABLE (C_WrapKey allowed),
// CKA_SIGN (CSR signing inside the HSM); the public key has CKA_VERIFY. Both carry the same CKA_LABEL and
// CKA_ID, which is how a key is named (KeyName).
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/ossl.h"
#include "p11/session.h"

namespace kmra::p11 {

enum class KeyAlgorithm { kRsa, kEc };

// What to generate: RSA with 2048..4096 bits (multiple of 8) or EC on P-256 / P-384.
struct KeySpec {
  KeyAlgorithm algorithm = KeyAlgorithm::kRsa;
  int rsa_bits = 2048;
  int ec_bits = 256;  // 256 (P-256) or 384 (P-384)

  // "rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384" (also "rsa2048", "p256", "P-256").
  static Result<KeySpec> Parse(std::string_view text);
  // The canonical spelling: "rsa-2048", "ec-p256".
  std::string ToString() const;
};

// How a key is named in the token: CKA_LABEL and CKA_ID (either may be empty, not both).
struct KeyName {
  std::string label;
  std::vector<uint8_t> id;
  // "label 'web' id 0a1b" for messages.
  std::string Describe() const;
};

// Attributes of the key objects to create.
struct KeyOptions {
  bool token = true;        // CKA_TOKEN: persistent (false: session object)
  bool extractable = true;  // CKA_EXTRACTABLE: may leave the HSM wrapped (the release path needs it)
};

// Handles of a key's objects. `public_key` may be CK_INVALID_HANDLE when the token holds none.
struct KeyObjects {
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  KeyAlgorithm algorithm = KeyAlgorithm::kRsa;
  // The label and id the objects carry (an id is generated when the caller gave none).
  KeyName name;
};

// Generates a key pair inside the HSM (C_GenerateKeyPair). AlreadyExists when a private key with the same
// label or id exists. Without name.id a random 16-byte CKA_ID is chosen (returned in KeyObjects::name). The session must be read-write and logged in.
Result<KeyObjects> GenerateKeyPair(Session& session, const KeySpec& spec, const KeyName& name,
                                   const KeyOptions& options = {});

// Imports an unencrypted PEM private key (PKCS#8 "PRIVATE KEY", "RSA PRIVATE KEY" or "EC PRIVATE KEY";
// RSA 2048-4096 or EC P-256/P-384) as private + public key objects (C_CreateObject with the key
// components). The components only pass through wiping memory. InvalidArgument names what is wrong with
// the PEM; AlreadyExists as above.
Result<KeyObjects> ImportPrivateKeyPem(Session& session, std::string_view pem, const KeyName& name,
                                       const KeyOptions& options = {});

// Finds the private key (and its public key, if any) named `name`. NotFound when there is none.
Result<KeyObjects> FindKey(Session& session, const KeyName& name);

// The public key of a key as DER SubjectPublicKeyInfo, read from the public key object, or for RSA from the
// private key's CKA_MODULUS / CKA_PUBLIC_EXPONENT when there is no public object.
Result<std::vector<uint8_t>> PublicKeySpki(Session& session, const KeyObjects& key);
// The same as an OpenSSL key (for matching certificates against the key).
Result<ossl::Ptr<EVP_PKEY>> PublicKey(Session& session, const KeyObjects& key);

// Destroys the private key, public key and certificate objects named `name`. NotFound when there was
// nothing to delete.
Status DeleteKey(Session& session, const KeyName& name);

// Converts a public key to the PKCS#11 attributes of a CKO_PUBLIC_KEY object (CKA_KEY_TYPE, CKA_MODULUS +
// CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS + CKA_EC_POINT), appended to `attrs`.
Status AppendPublicKeyAttrs(const EVP_PKEY* key, Attrs& attrs);

}  // namespace kmra::p11
