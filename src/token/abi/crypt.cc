// Encryption and decryption functions (PKCS#11 v2.40 §5.10, §5.11) and the dual-function stubs
// (§5.14).
#include "token/abi/guard.h"
#include "token/abi/ops.h"

using kmra::token::OpKind;
namespace abi = kmra::token::abi;

KMRA_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hKey) {
  return abi::InitEntry(hSession, OpKind::kEncrypt, pMechanism, hKey);
}

KMRA_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                            CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen) {
  return abi::SingleEntry(hSession, OpKind::kEncrypt, pData, ulDataLen, pEncryptedData,
                          pulEncryptedDataLen);
}

// Multi-part encryption buffers the input and produces everything at C_EncryptFinal (GCM and
// RSA produce their output at the end anyway).
KMRA_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                                  CK_BYTE_PTR, CK_ULONG_PTR pulEncryptedPartLen) {
  return abi::BufferedUpdateEntry(hSession, OpKind::kEncrypt, pPart, ulPartLen,
                                  pulEncryptedPartLen);
}

KMRA_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                                 CK_ULONG_PTR pulLastEncryptedPartLen) {
  return abi::FinalEntry(hSession, OpKind::kEncrypt, pLastEncryptedPart, pulLastEncryptedPartLen);
}

KMRA_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hKey) {
  return abi::InitEntry(hSession, OpKind::kDecrypt, pMechanism, hKey);
}

KMRA_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
                            CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData,
                            CK_ULONG_PTR pulDataLen) {
  return abi::SingleEntry(hSession, OpKind::kDecrypt, pEncryptedData, ulEncryptedDataLen, pData,
                          pulDataLen);
}

KMRA_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                  CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR,
                                  CK_ULONG_PTR pulPartLen) {
  return abi::BufferedUpdateEntry(hSession, OpKind::kDecrypt, pEncryptedPart, ulEncryptedPartLen,
                                  pulPartLen);
}

KMRA_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
                                 CK_ULONG_PTR pulLastPartLen) {
  return abi::FinalEntry(hSession, OpKind::kDecrypt, pLastPart, pulLastPartLen);
}

KMRA_EXPORT CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                        CK_BYTE_PTR, CK_ULONG_PTR) {
  return abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                        CK_BYTE_PTR, CK_ULONG_PTR) {
  return abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                      CK_BYTE_PTR, CK_ULONG_PTR) {
  return abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                        CK_BYTE_PTR, CK_ULONG_PTR) {
  return abi::NotSupported(hSession);
}
