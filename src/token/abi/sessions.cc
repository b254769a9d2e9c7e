// Session management functions (PKCS#11 v2.40 §5.6) and the parallel-function stubs (§5.20).
#include <string_view>

#include "token/abi/guard.h"

using kmra::token::kSlotId;
using kmra::token::Session;
using kmra::token::Token;
using kmra::token::abi::WithSession;
using kmra::token::abi::WithToken;

KMRA_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                                CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession) {
  return WithToken([&](Token& t) -> CK_RV {
    if (slotID != kSlotId) return CKR_SLOT_ID_INVALID;
    if (phSession == nullptr) return CKR_ARGUMENTS_BAD;
    return t.OpenSession(flags, *phSession);
  });
}

KMRA_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession) {
  return WithSession(hSession, [&](Token& t, Session&) { return t.CloseSession(hSession); });
}

KMRA_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID) {
  return WithToken([&](Token& t) -> CK_RV {
    if (slotID != kSlotId) return CKR_SLOT_ID_INVALID;
    t.CloseAllSessions();
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    t.FillSessionInfo(s, *pInfo);
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                          CK_ULONG ulPinLen) {
  return WithSession(hSession, [&](Token& t, Session&) -> CK_RV {
    if (pPin == nullptr) return CKR_ARGUMENTS_BAD;
    return t.Login(userType, {reinterpret_cast<const char*>(pPin), static_cast<size_t>(ulPinLen)});
  });
}

KMRA_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession) {
  return WithSession(hSession, [&](Token& t, Session&) { return t.Logout(); });
}

KMRA_EXPORT CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG_PTR) {
  return kmra::token::abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG,
                                      CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
  return kmra::token::abi::NotSupported(hSession);
}

KMRA_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_PARALLEL; });
}

KMRA_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession) {
  return WithSession(hSession, [&](Token&, Session&) { return CKR_FUNCTION_NOT_PARALLEL; });
}
