// Asymmetric keys of the token: generation, import (PKCS#8, PKCS#11 components) and the public
// attributes PKCS#11 clients read (CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_EC_POINT).
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/ossl.h"
#include "token/object.h"

namespace kmra::token {

// Supported curves, by their DER-encoded OID (CKA_EC_PARAMS) and OpenSSL group name.
struct Curve {
  const char* name;               // "P-256"
  const char* group;              // OpenSSL group name ("prime256v1")
  std::vector<uint8_t> params;    // DER OBJECT IDENTIFIER
  size_t field_bytes;             // 32 for P-256
};
// Looks a curve up by CKA_EC_PARAMS (a named-curve OID; printable names "prime256v1" are accepted).
Result<Curve> CurveFromParams(std::span<const uint8_t> ec_params);
// Looks a curve up by OpenSSL group name.
Result<Curve> CurveFromGroup(const std::string& group);

// Generates an RSA key (bits in [2048, 4096], public exponent big-endian bytes, empty = 65537).
Result<ossl::Ptr<EVP_PKEY>> GenerateRsa(CK_ULONG bits, std::span<const uint8_t> exponent);
// Generates an EC key on the curve named by CKA_EC_PARAMS.
Result<ossl::Ptr<EVP_PKEY>> GenerateEc(std::span<const uint8_t> ec_params);

// PKCS#8 PrivateKeyInfo DER of a private key.
Result<SecretBytes> ToPkcs8(EVP_PKEY* pkey);
// Parses PKCS#8 PrivateKeyInfo DER (RSA or EC on a supported curve).
Result<ossl::Ptr<EVP_PKEY>> FromPkcs8(std::span<const uint8_t> der);

// Adds the public attributes of `pkey` to `o`: RSA CKA_MODULUS, CKA_PUBLIC_EXPONENT (and
// CKA_MODULUS_BITS on public keys); EC CKA_EC_PARAMS and CKA_EC_POINT (DER OCTET STRING).
Status SetPublicAttributes(EVP_PKEY* pkey, Object& o);

// Builds the private key of a C_CreateObject template from its PKCS#11 components (RSA: n, e, d,
// p, q, dp, dq, qinv; EC: CKA_EC_PARAMS + CKA_VALUE). The components are read from `tmpl`.
Result<ossl::Ptr<EVP_PKEY>> PrivateKeyFromComponents(CK_KEY_TYPE type, const AttrMap& secret_parts,
                                                     const AttrMap& attrs);
// Builds a public key from an object's CKA_MODULUS/CKA_PUBLIC_EXPONENT or CKA_EC_PARAMS/CKA_EC_POINT.
Result<ossl::Ptr<EVP_PKEY>> PublicKeyFromAttributes(const Object& o);

// Parses o.pkey from o.secret (private keys) or the public attributes (public keys).
Status AttachKey(Object& o);

// Big-endian bytes of an RSA component of `pkey` ("n", "e", "d", ...); empty on failure.
std::vector<uint8_t> RsaParam(EVP_PKEY* pkey, const char* name);
// Modulus size of an RSA key in bits, or the order size of an EC key.
int KeyBits(EVP_PKEY* pkey);

}  // namespace kmra::token
