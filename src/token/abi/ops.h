// The cryptographic C_* entry points of one shape (PKCS#11 v2.40 §5.10-5.13): each runs in the
// guard, finds its session (CKR_CRYPTOKI_NOT_INITIALIZED, CKR_SESSION_HANDLE_INVALID first), then
// works on the session's operation of its kind with the §5.2 length conventions and the operation
// lifetimes of the spec. The C_* functions in crypt.cc, sign.cc and digest.cc only name their kind.
#pragma once

#include <p11-kit/pkcs11.h>

#include "token/crypto_ops.h"

namespace kmra::token::abi {

// C_SignInit / C_VerifyInit / C_EncryptInit / C_DecryptInit / C_DigestInit (key unused for
// digests): CKR_ARGUMENTS_BAD for a NULL mechanism, else Token::OperationInit.
CK_RV InitEntry(CK_SESSION_HANDLE h, OpKind kind, CK_MECHANISM_PTR mechanism,
                CK_OBJECT_HANDLE key) noexcept;

// C_Sign / C_Encrypt / C_Decrypt / C_Digest over `in`: a NULL `out` asks for the length, a short
// buffer returns CKR_BUFFER_TOO_SMALL; both keep the operation. Anything else ends it.
CK_RV SingleEntry(CK_SESSION_HANDLE h, OpKind kind, const uint8_t* in, CK_ULONG in_len,
                  CK_BYTE_PTR out, CK_ULONG_PTR out_len) noexcept;

// C_SignUpdate / C_VerifyUpdate / C_DigestUpdate: feeds input; an error ends the operation.
CK_RV UpdateEntry(CK_SESSION_HANDLE h, OpKind kind, const uint8_t* in, CK_ULONG in_len) noexcept;
// C_EncryptUpdate / C_DecryptUpdate, which buffer everything until Final: as UpdateEntry, with
// CKR_ARGUMENTS_BAD first for a NULL `out_len` and 0 output bytes on success.
CK_RV BufferedUpdateEntry(CK_SESSION_HANDLE h, OpKind kind, const uint8_t* in, CK_ULONG in_len,
                          CK_ULONG_PTR out_len) noexcept;

// C_SignFinal / C_EncryptFinal / C_DecryptFinal / C_DigestFinal: finishes with the input fed by
// the updates (same length rules as SingleEntry).
CK_RV FinalEntry(CK_SESSION_HANDLE h, OpKind kind, CK_BYTE_PTR out, CK_ULONG_PTR out_len) noexcept;

// C_Verify (`final` false, over `in`) and C_VerifyFinal (`final` true, over the updates' input):
// CKR_OK, CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE; every outcome but
// CKR_OPERATION_ACTIVE (a single-part call on a multi-part operation) ends the operation.
CK_RV VerifyEntry(CK_SESSION_HANDLE h, bool final, const uint8_t* in, CK_ULONG in_len,
                  const uint8_t* signature, CK_ULONG signature_len) noexcept;

}  // namespace kmra::token::abi
