// The custody invariant of the attestation path (docs/token.md, "Threat model and custody"): what
// an attestation key, a transport key (SWK) and a released key may do, and the attributes the token
// forces on them whatever the caller's template says. The custody state is the read-only vendor
// attribute CKA_KMRA_CUSTODY (include/kmra/pkcs11_vendor.h), so token keys keep it across restarts.
// Not thread safe; the module serialises access.
#pragma once

#include <p11-kit/pkcs11.h>

#include <string_view>

#include "token/object.h"

namespace kmra::token {

// Logs "custody: <call> refused (<rv>): <why>" and returns rv: every custody refusal says why once.
CK_RV RefuseCustody(std::string_view call, CK_RV rv, std::string_view why);

// Makes `priv`, the private half of a key pair being quoted, an attestation key: sensitive, never
// extractable, RSA-OAEP unwrap only, not modifiable or copyable. Each attribute of the caller's
// template this overrides is logged at debug level.
void MakeAttestationKey(Object& priv);

// Checks the template of a key that a custody key unwraps (`o`, after PrepareKeyTemplate) and
// forces the custody attributes: an attestation key unwraps only an AES transport key, a transport
// key only an RSA or EC private key (the released key). Returns CKR_TEMPLATE_INCONSISTENT (logged)
// for any other class or key type, CKR_OK otherwise; `unwrapping_custody` is
// KMRA_CUSTODY_ATTESTATION or KMRA_CUSTODY_TRANSPORT.
CK_RV PrepareCustodyTarget(CK_ULONG unwrapping_custody, Object& o);

// Sets what only a finished custody key can claim (CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE: its
// plaintext never existed outside the token); call after SetOrigin.
void FinishCustodyTarget(Object& o);

// Whether `o` permits `mech`: CKA_ALLOWED_MECHANISMS empty (any) or naming it.
bool AllowsMechanism(const Object& o, CK_MECHANISM_TYPE mech);

// Whether the key is on the attestation path (any custody but KMRA_CUSTODY_NONE).
inline bool InCustody(const Object& o) { return o.Custody() != 0; }

}  // namespace kmra::token
