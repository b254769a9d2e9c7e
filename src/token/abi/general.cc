// General-purpose functions (PKCS#11 v2.40 §5.4) and the function list.
#include <cstring>

#include "token/abi/functions.h"
#include "token/abi/guard.h"

namespace kmra::token::abi {

CK_RV ReturnBytes(const uint8_t* data, size_t n, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  if (out == nullptr) {
    *out_len = n;
    return CKR_OK;
  }
  if (*out_len < n) {
    *out_len = n;
    return CKR_BUFFER_TOO_SMALL;
  }
  if (n > 0) std::memcpy(out, data, n);
  *out_len = n;
  return CKR_OK;
}

}  // namespace kmra::token::abi

using kmra::token::abi::Guard;

KMRA_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs) {
  return Guard([&] { return kmra::token::ModuleInitialize(pInitArgs); });
}

KMRA_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved) {
  return Guard([&] { return kmra::token::ModuleFinalize(pReserved); });
}

KMRA_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo) {
  return kmra::token::abi::WithToken([&](kmra::token::Token&) -> CK_RV {
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    std::memset(pInfo, 0, sizeof *pInfo);
    pInfo->cryptokiVersion = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR};
    std::memset(pInfo->manufacturerID, ' ', sizeof pInfo->manufacturerID);
    std::memcpy(pInfo->manufacturerID, "OpenKMRA", 8);
    std::memset(pInfo->libraryDescription, ' ', sizeof pInfo->libraryDescription);
    static constexpr char kDesc[] = "OpenKMRA enclave token";
    std::memcpy(pInfo->libraryDescription, kDesc, sizeof kDesc - 1);
    pInfo->libraryVersion = {0, 1};
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  if (ppFunctionList == nullptr) return CKR_ARGUMENTS_BAD;
  *ppFunctionList = &kmra::token::abi::kFunctionList;
  return CKR_OK;
}
