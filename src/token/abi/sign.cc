// Signing and verification functions (PKCS#11 v2.40 §5.12, §5.13).
#include "token/abi/guard.h"
#include "token/abi/ops.h"

using kmra::token::OpKind;
namespace abi = kmra::token::abi;

KMRA_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hKey) {
  return abi::InitEntry(hSession, OpKind::kSign, pMechanism, hKey);
}

KMRA_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                         CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
  return abi::SingleEntry(hSession, OpKind::kSign, pData, ulDataLen, pSignature, pulSignatureLen);
}

KMRA_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return abi::UpdateEntry(hSession, OpKind::kSign, pPart, ulPartLen);
}

KMRA_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                              CK_ULONG_PTR pulSignatureLen) {
  return abi::FinalEntry(hSession, OpKind::kSign, pSignature, pulSignatureLen);
}

KMRA_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR,
                                    CK_OBJECT_HANDLE) {
  return abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                CK_ULONG_PTR) {
  return abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_OBJECT_HANDLE hKey) {
  return abi::InitEntry(hSession, OpKind::kVerify, pMechanism, hKey);
}

KMRA_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                           CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen) {
  return abi::VerifyEntry(hSession, false, pData, ulDataLen, pSignature, ulSignatureLen);
}

KMRA_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                 CK_ULONG ulPartLen) {
  return abi::UpdateEntry(hSession, OpKind::kVerify, pPart, ulPartLen);
}

KMRA_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                CK_ULONG ulSignatureLen) {
  return abi::VerifyEntry(hSession, true, nullptr, 0, pSignature, ulSignatureLen);
}

KMRA_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR,
                                      CK_OBJECT_HANDLE) {
  return abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                  CK_ULONG_PTR) {
  return abi::NotSupported(hSession);
}
