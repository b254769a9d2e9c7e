// Key management functions (PKCS#11 v2.40 §5.14): generation, wrapping, unwrapping, derivation.
#include "token/abi/guard.h"

using kmra::token::Session;
using kmra::token::Token;
using kmra::token::abi::WithSession;

KMRA_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                                CK_OBJECT_HANDLE_PTR phKey) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pMechanism == nullptr || (pTemplate == nullptr && ulCount > 0) || phKey == nullptr) {
      return CKR_ARGUMENTS_BAD;
    }
    return t.GenerateKey(s, *pMechanism, pTemplate, ulCount, *phKey);
  });
}

KMRA_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                    CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                                    CK_ULONG ulPublicKeyAttributeCount,
                                    CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                                    CK_ULONG ulPrivateKeyAttributeCount,
                                    CK_OBJECT_HANDLE_PTR phPublicKey,
                                    CK_OBJECT_HANDLE_PTR phPrivateKey) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pMechanism == nullptr || (pPublicKeyTemplate == nullptr && ulPublicKeyAttributeCount > 0) ||
        (pPrivateKeyTemplate == nullptr && ulPrivateKeyAttributeCount > 0) ||
        phPublicKey == nullptr || phPrivateKey == nullptr) {
      return CKR_ARGUMENTS_BAD;
    }
    return t.GenerateKeyPair(s, *pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount,
                             pPrivateKeyTemplate, ulPrivateKeyAttributeCount, *phPublicKey,
                             *phPrivateKey);
  });
}

KMRA_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                            CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                            CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pMechanism == nullptr || pulWrappedKeyLen == nullptr) return CKR_ARGUMENTS_BAD;
    return t.WrapKey(s, *pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen);
  });
}

KMRA_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                              CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                              CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                              CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pMechanism == nullptr || pWrappedKey == nullptr || phKey == nullptr ||
        (pTemplate == nullptr && ulAttributeCount > 0)) {
      return CKR_ARGUMENTS_BAD;
    }
    return t.UnwrapKey(s, *pMechanism, hUnwrappingKey,
                       {pWrappedKey, static_cast<size_t>(ulWrappedKeyLen)}, pTemplate,
                       ulAttributeCount, *phKey);
  });
}

KMRA_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR, CK_OBJECT_HANDLE,
                              CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR) {
  return kmra::token::abi::NotSupported(hSession);
}
