// OpenSSL <-> PKCS#11 attribute conversions for keys (private helpers of src/p11).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/ossl.h"
#include "p11/attributes.h"
#include "p11/keys.h"

namespace kmra::p11::internal {

// Lower-case hex.
std::string Hex(std::span<const uint8_t> bytes);

// DER of the named-curve OID for P-256 (256) or P-384 (384), the CKA_EC_PARAMS value.
Result<std::vector<uint8_t>> EcParamsForBits(int bits);

// The keys the HSM takes from an import: RSA 2048-4096 or EC P-256/P-384, else InvalidArgument
// naming what the key is. (The PEM itself is crypto::PrivateKey::FromPem's.)
Status CheckImportable(const EVP_PKEY* key);

// Appends CKA_KEY_TYPE and the private components (RSA CRT values or EC params + scalar) to
// `attrs`.
Result<KeyAlgorithm> AppendPrivateKeyAttrs(const EVP_PKEY* key, Attrs& attrs);

// Appends CKA_KEY_TYPE and the public components.
Status AppendPublicKeyAttrs(const EVP_PKEY* key, Attrs& attrs);

// Builds public keys from PKCS#11 attribute values.
Result<ossl::Ptr<EVP_PKEY>> RsaPublicFromComponents(std::span<const uint8_t> modulus,
                                                    std::span<const uint8_t> exponent);
// `point` is CKA_EC_POINT: a DER OCTET STRING holding the X9.62 point (a bare point is accepted
// too).
Result<ossl::Ptr<EVP_PKEY>> EcPublicFromAttributes(std::span<const uint8_t> ec_params,
                                                   std::span<const uint8_t> point);

// DER SubjectPublicKeyInfo of a key / the key of a DER SubjectPublicKeyInfo.
Result<std::vector<uint8_t>> SpkiDer(const EVP_PKEY* key);
Result<ossl::Ptr<EVP_PKEY>> ParseSpki(std::span<const uint8_t> der);

// The key algorithm of an OpenSSL key (RSA or EC, else InvalidArgument).
Result<KeyAlgorithm> AlgorithmOf(const EVP_PKEY* key);

}  // namespace kmra::p11::internal
