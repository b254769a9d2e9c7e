// Message digesting functions (PKCS#11 v2.40 §5.11).
#include "token/abi/guard.h"
#include "token/abi/ops.h"

using kmra::token::OpKind;
using kmra::token::Session;
using kmra::token::Token;
namespace abi = kmra::token::abi;

KMRA_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism) {
  return abi::InitEntry(hSession, OpKind::kDigest, pMechanism, CK_INVALID_HANDLE);
}

KMRA_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                           CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen) {
  return abi::SingleEntry(hSession, OpKind::kDigest, pData, ulDataLen, pDigest, pulDigestLen);
}

KMRA_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                 CK_ULONG ulPartLen) {
  return abi::UpdateEntry(hSession, OpKind::kDigest, pPart, ulPartLen);
}

KMRA_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE) {
  return abi::WithSession(hSession, [&](Token&, Session& s) -> CK_RV {
    if (!s.digest) return CKR_OPERATION_NOT_INITIALIZED;
    return CKR_FUNCTION_NOT_SUPPORTED;
  });
}

KMRA_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                                CK_ULONG_PTR pulDigestLen) {
  return abi::FinalEntry(hSession, OpKind::kDigest, pDigest, pulDigestLen);
}
