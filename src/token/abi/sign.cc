// Signing and verification functions (PKCS#11 v2.40 §5.12, §5.13).
#include "token/abi/guard.h"
#include "token/abi/ops.h"

using kmra::token::OpKind;
using kmra::token::Session;
using kmra::token::Token;
using kmra::token::abi::WithSession;

KMRA_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hKey) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pMechanism == nullptr) return CKR_ARGUMENTS_BAD;
    return t.OperationInit(s, OpKind::kSign, *pMechanism, hKey);
  });
}

KMRA_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                         CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
  return WithSession(hSession, [&](Token&, Session& s) {
    return kmra::token::abi::SinglePart(s.sign, pData, ulDataLen, pSignature, pulSignatureLen);
  });
}

KMRA_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return WithSession(hSession, [&](Token&, Session& s) {
    return kmra::token::abi::UpdatePart(s.sign, pPart, ulPartLen);
  });
}

KMRA_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                              CK_ULONG_PTR pulSignatureLen) {
  return WithSession(hSession, [&](Token&, Session& s) {
    return kmra::token::abi::FinalPart(s.sign, pSignature, pulSignatureLen);
  });
}

KMRA_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}

KMRA_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                CK_ULONG_PTR) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}

KMRA_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_OBJECT_HANDLE hKey) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pMechanism == nullptr) return CKR_ARGUMENTS_BAD;
    return t.OperationInit(s, OpKind::kVerify, *pMechanism, hKey);
  });
}

KMRA_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                           CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen) {
  return WithSession(hSession, [&](Token&, Session& s) -> CK_RV {
    if (!s.verify) return CKR_OPERATION_NOT_INITIALIZED;
    if ((pData == nullptr && ulDataLen > 0) || pSignature == nullptr) {
      s.verify.reset();
      return CKR_ARGUMENTS_BAD;
    }
    if (s.verify->multipart) return CKR_OPERATION_ACTIVE;
    CK_RV rv = kmra::token::FinishVerify(*s.verify, {pData, static_cast<size_t>(ulDataLen)},
                                         {pSignature, static_cast<size_t>(ulSignatureLen)});
    s.verify.reset();
    return rv;
  });
}

KMRA_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return WithSession(hSession, [&](Token&, Session& s) {
    return kmra::token::abi::UpdatePart(s.verify, pPart, ulPartLen);
  });
}

KMRA_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                CK_ULONG ulSignatureLen) {
  return WithSession(hSession, [&](Token&, Session& s) -> CK_RV {
    if (!s.verify) return CKR_OPERATION_NOT_INITIALIZED;
    if (pSignature == nullptr) {
      s.verify.reset();
      return CKR_ARGUMENTS_BAD;
    }
    s.verify->multipart = true;
    CK_RV rv = kmra::token::FinishVerify(*s.verify, {},
                                         {pSignature, static_cast<size_t>(ulSignatureLen)});
    s.verify.reset();
    return rv;
  });
}

KMRA_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR,
                                      CK_OBJECT_HANDLE) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}

KMRA_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                  CK_ULONG_PTR) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}
