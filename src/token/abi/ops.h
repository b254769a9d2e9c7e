// Shared single-part / multi-part plumbing of the cryptographic C_* functions (PKCS#11 v2.40
// §5.2 length conventions, §5.10-5.13 operation lifetimes).
#pragma once

#include <p11-kit/pkcs11.h>

#include <optional>
#include <span>

#include "token/crypto_ops.h"

namespace kmra::token::abi {

// C_Sign / C_Encrypt / C_Decrypt / C_Digest over `in`: a NULL `out` asks for the length, a short
// buffer returns CKR_BUFFER_TOO_SMALL; both keep the operation. Anything else ends it.
CK_RV SinglePart(std::optional<Operation>& op, const uint8_t* in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len);

// C_*Update: feeds input; an error ends the operation.
CK_RV UpdatePart(std::optional<Operation>& op, const uint8_t* in, CK_ULONG in_len);

// C_*Final: finishes with the input fed by the updates (same length rules as SinglePart).
CK_RV FinalPart(std::optional<Operation>& op, CK_BYTE_PTR out, CK_ULONG_PTR out_len);

}  // namespace kmra::token::abi
