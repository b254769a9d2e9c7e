// Encryption and decryption functions (PKCS#11 v2.40 §5.10, §5.11) and the dual-function stubs
// (§5.14).
#include "token/abi/guard.h"
#include "token/abi/ops.h"

using kmra::token::OpKind;
using kmra::token::Session;
using kmra::token::Token;
using kmra::token::abi::WithSession;

KMRA_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hKey) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pMechanism == nullptr) return CKR_ARGUMENTS_BAD;
    return t.OperationInit(s, OpKind::kEncrypt, *pMechanism, hKey);
  });
}

KMRA_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                            CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen) {
  return WithSession(hSession, [&](Token&, Session& s) {
    return kmra::token::abi::SinglePart(s.encrypt, pData, ulDataLen, pEncryptedData,
                                        pulEncryptedDataLen);
  });
}

// Multi-part encryption buffers the input and produces everything at C_EncryptFinal (GCM and
// RSA produce their output at the end anyway).
KMRA_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                                  CK_BYTE_PTR, CK_ULONG_PTR pulEncryptedPartLen) {
  return WithSession(hSession, [&](Token&, Session& s) -> CK_RV {
    if (pulEncryptedPartLen == nullptr) return CKR_ARGUMENTS_BAD;
    CK_RV rv = kmra::token::abi::UpdatePart(s.encrypt, pPart, ulPartLen);
    if (rv == CKR_OK) *pulEncryptedPartLen = 0;
    return rv;
  });
}

KMRA_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                                 CK_ULONG_PTR pulLastEncryptedPartLen) {
  return WithSession(hSession, [&](Token&, Session& s) {
    return kmra::token::abi::FinalPart(s.encrypt, pLastEncryptedPart, pulLastEncryptedPartLen);
  });
}

KMRA_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hKey) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pMechanism == nullptr) return CKR_ARGUMENTS_BAD;
    return t.OperationInit(s, OpKind::kDecrypt, *pMechanism, hKey);
  });
}

KMRA_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
                            CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen) {
  return WithSession(hSession, [&](Token&, Session& s) {
    return kmra::token::abi::SinglePart(s.decrypt, pEncryptedData, ulEncryptedDataLen, pData,
                                        pulDataLen);
  });
}

KMRA_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                  CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR, CK_ULONG_PTR pulPartLen) {
  return WithSession(hSession, [&](Token&, Session& s) -> CK_RV {
    if (pulPartLen == nullptr) return CKR_ARGUMENTS_BAD;
    CK_RV rv = kmra::token::abi::UpdatePart(s.decrypt, pEncryptedPart, ulEncryptedPartLen);
    if (rv == CKR_OK) *pulPartLen = 0;
    return rv;
  });
}

KMRA_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
                                 CK_ULONG_PTR pulLastPartLen) {
  return WithSession(hSession, [&](Token&, Session& s) {
    return kmra::token::abi::FinalPart(s.decrypt, pLastPart, pulLastPartLen);
  });
}

KMRA_EXPORT CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                        CK_BYTE_PTR, CK_ULONG_PTR) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}

KMRA_EXPORT CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                        CK_BYTE_PTR, CK_ULONG_PTR) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}

KMRA_EXPORT CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                      CK_BYTE_PTR, CK_ULONG_PTR) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}

KMRA_EXPORT CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                        CK_BYTE_PTR, CK_ULONG_PTR) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}
