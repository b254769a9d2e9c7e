// Mechanism parameters of session operations (PKCS#11 v2.40 current mechanisms §2.1 RSA, §2.3
// ECDSA, §2.11 AES-GCM): which family a mechanism belongs to, and the parsing and checking of
// CK_RSA_PKCS_PSS_PARAMS, CK_RSA_PKCS_OAEP_PARAMS and CK_GCM_PARAMS against the operation's key.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstddef>

#include "token/crypto_ops.h"

namespace kmra::token {

bool IsRsaMech(CK_MECHANISM_TYPE m);
bool IsPss(CK_MECHANISM_TYPE m);
bool IsEcdsa(CK_MECHANISM_TYPE m);

// Modulus size of the operation's RSA key, field size of its EC key (bytes).
size_t RsaBytes(const Operation& op);
size_t EcFieldBytes(const Operation& op);

// Fill `op` (op.pkey / op.md already set) from the mechanism's parameters: CKR_OK,
// CKR_MECHANISM_PARAM_INVALID, or CKR_KEY_SIZE_RANGE when the key cannot take them.
CK_RV ParsePss(const CK_MECHANISM& m, Operation& op);
CK_RV ParseOaep(const CK_MECHANISM& m, Operation& op);
CK_RV ParseGcm(const CK_MECHANISM& m, Operation& op);

}  // namespace kmra::token
