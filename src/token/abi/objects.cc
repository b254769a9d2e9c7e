// Object management functions (PKCS#11 v2.40 §5.7).
#include <algorithm>

#include "token/abi/guard.h"

using kmra::token::Session;
using kmra::token::Token;
using kmra::token::abi::WithSession;

KMRA_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                 CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if ((pTemplate == nullptr && ulCount > 0) || phObject == nullptr) return CKR_ARGUMENTS_BAD;
    return t.CreateObject(s, pTemplate, ulCount, *phObject);
  });
}

KMRA_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR,
                               CK_ULONG, CK_OBJECT_HANDLE_PTR) {
  return kmra::token::abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject) {
  return WithSession(hSession, [&](Token& t, Session& s) { return t.DestroyObject(s, hObject); });
}

KMRA_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                  CK_ULONG_PTR pulSize) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pulSize == nullptr) return CKR_ARGUMENTS_BAD;
    return t.GetObjectSize(s, hObject, *pulSize);
  });
}

KMRA_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                      CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pTemplate == nullptr && ulCount > 0) return CKR_ARGUMENTS_BAD;
    return t.GetAttributeValue(s, hObject, pTemplate, ulCount);
  });
}

KMRA_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                      CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pTemplate == nullptr && ulCount > 0) return CKR_ARGUMENTS_BAD;
    return t.SetAttributeValue(s, hObject, pTemplate, ulCount);
  });
}

KMRA_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                    CK_ULONG ulCount) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pTemplate == nullptr && ulCount > 0) return CKR_ARGUMENTS_BAD;
    return t.FindObjectsInit(s, pTemplate, ulCount);
  });
}

KMRA_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                                CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount) {
  return WithSession(hSession, [&](Token&, Session& s) -> CK_RV {
    if (!s.find.active) return CKR_OPERATION_NOT_INITIALIZED;
    if ((phObject == nullptr && ulMaxObjectCount > 0) || pulObjectCount == nullptr) {
      return CKR_ARGUMENTS_BAD;
    }
    const size_t left = s.find.results.size() - s.find.pos;
    const size_t n = std::min<size_t>(left, ulMaxObjectCount);
    for (size_t i = 0; i < n; ++i) phObject[i] = s.find.results[s.find.pos + i];
    s.find.pos += n;
    *pulObjectCount = n;
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession) {
  return WithSession(hSession, [&](Token&, Session& s) -> CK_RV {
    if (!s.find.active) return CKR_OPERATION_NOT_INITIALIZED;
    s.find = kmra::token::FindState();
    return CKR_OK;
  });
}
