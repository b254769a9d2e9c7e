// The mechanisms the token offers (C_GetMechanismList / C_GetMechanismInfo) and the hash helpers
// the operations share.
#pragma once

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <optional>
#include <vector>

#include "crypto/hash.h"

namespace kmra::token {

struct MechanismEntry {
  CK_MECHANISM_TYPE type;
  CK_MECHANISM_INFO info;
};

// Every mechanism of the token, in a stable order.
const std::vector<MechanismEntry>& Mechanisms();
// The entry for `type`, or nullptr when the token does not offer it.
const MechanismEntry* FindMechanism(CK_MECHANISM_TYPE type);

// The hash of a PKCS#11 hash mechanism (CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384,
// CKM_SHA512), or nullopt for any other.
std::optional<crypto::HashAlg> HashOf(CK_MECHANISM_TYPE hash_mech);
// The hash of an MGF1 generator (CKG_MGF1_SHA1, _SHA224 ... _SHA512), or nullopt for any other.
std::optional<crypto::HashAlg> HashOfMgf(CK_RSA_PKCS_MGF_TYPE mgf);
// OpenSSL digest of a hash mechanism (the digest state of C_Digest and hash-and-sign), or nullptr.
const EVP_MD* DigestOf(CK_MECHANISM_TYPE hash_mech);
// The hash of a hash-and-sign mechanism (CKM_SHA256_RSA_PKCS -> CKM_SHA256), or 0 when the
// mechanism signs its input as given.
CK_MECHANISM_TYPE HashOfSignMechanism(CK_MECHANISM_TYPE mech);

}  // namespace kmra::token
