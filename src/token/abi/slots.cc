// Slot and token management functions (PKCS#11 v2.40 §5.5).
#include <cstring>
#include <string_view>

#include "token/abi/guard.h"
#include "token/mechanisms.h"

using kmra::token::kSlotId;
using kmra::token::Session;
using kmra::token::Token;
using kmra::token::abi::WithSession;
using kmra::token::abi::WithToken;

namespace {

std::string_view Pin(CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  return {reinterpret_cast<const char*>(pin), static_cast<size_t>(len)};
}

}  // namespace

KMRA_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                                CK_ULONG_PTR pulCount) {
  return WithToken([&](Token&) -> CK_RV {
    if (pulCount == nullptr) return CKR_ARGUMENTS_BAD;
    if (pSlotList == nullptr) {
      *pulCount = 1;
      return CKR_OK;
    }
    if (*pulCount < 1) {
      *pulCount = 1;
      return CKR_BUFFER_TOO_SMALL;
    }
    pSlotList[0] = kSlotId;
    *pulCount = 1;
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo) {
  return WithToken([&](Token& t) -> CK_RV {
    if (slotID != kSlotId) return CKR_SLOT_ID_INVALID;
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    std::memset(pInfo, 0, sizeof *pInfo);
    std::memset(pInfo->slotDescription, ' ', sizeof pInfo->slotDescription);
    std::memset(pInfo->manufacturerID, ' ', sizeof pInfo->manufacturerID);
    const std::string desc = "OpenKMRA enclave token (" + t.config().platform + ")";
    std::memcpy(pInfo->slotDescription, desc.data(),
                std::min(desc.size(), sizeof pInfo->slotDescription));
    std::memcpy(pInfo->manufacturerID, "OpenKMRA", 8);
    pInfo->flags = CKF_TOKEN_PRESENT;
    pInfo->hardwareVersion = {1, 0};
    pInfo->firmwareVersion = {0, 1};
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo) {
  return WithToken([&](Token& t) -> CK_RV {
    if (slotID != kSlotId) return CKR_SLOT_ID_INVALID;
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    t.FillTokenInfo(*pInfo);
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                                     CK_ULONG_PTR pulCount) {
  return WithToken([&](Token&) -> CK_RV {
    if (slotID != kSlotId) return CKR_SLOT_ID_INVALID;
    if (pulCount == nullptr) return CKR_ARGUMENTS_BAD;
    const auto& all = kmra::token::Mechanisms();
    if (pMechanismList == nullptr) {
      *pulCount = all.size();
      return CKR_OK;
    }
    if (*pulCount < all.size()) {
      *pulCount = all.size();
      return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < all.size(); ++i) pMechanismList[i] = all[i].type;
    *pulCount = all.size();
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                     CK_MECHANISM_INFO_PTR pInfo) {
  return WithToken([&](Token&) -> CK_RV {
    if (slotID != kSlotId) return CKR_SLOT_ID_INVALID;
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    const auto* m = kmra::token::FindMechanism(type);
    if (m == nullptr) return CKR_MECHANISM_INVALID;
    *pInfo = m->info;
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                              CK_UTF8CHAR_PTR pLabel) {
  return WithToken([&](Token& t) -> CK_RV {
    if (slotID != kSlotId) return CKR_SLOT_ID_INVALID;
    if (pPin == nullptr || pLabel == nullptr) return CKR_ARGUMENTS_BAD;
    return t.InitToken(Pin(pPin, ulPinLen), Pin(pLabel, 32));
  });
}

KMRA_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pPin == nullptr) return CKR_ARGUMENTS_BAD;
    return t.InitPin(s, Pin(pPin, ulPinLen));
  });
}

KMRA_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
                           CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen) {
  return WithSession(hSession, [&](Token& t, Session& s) -> CK_RV {
    if (pOldPin == nullptr || pNewPin == nullptr) return CKR_ARGUMENTS_BAD;
    return t.SetPin(s, Pin(pOldPin, ulOldLen), Pin(pNewPin, ulNewLen));
  });
}

KMRA_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved) {
  return WithToken([&](Token&) -> CK_RV {
    // One fixed slot: no event ever happens.
    return (flags & CKF_DONT_BLOCK) ? CKR_NO_EVENT : CKR_FUNCTION_NOT_SUPPORTED;
  });
}
