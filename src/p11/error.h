// Mapping of PKCS#11 return values (CK_RV) to kmra::Error.
//
// Every failing call becomes an Error whose message names the function and the CKR_ constant, e.g.
// "C_Login: CKR_PIN_INCORRECT (0xa0)", and whose Code lets a caller branch:
//   PIN/user problems           -> Unauthenticated
//   connection lost (kConnectionLost) -> Unavailable (retrying after a reconnect may help)
//   bad arguments/templates     -> InvalidArgument
//   missing objects/mechanisms  -> NotFound / Unimplemented
//   full token, no memory       -> ResourceExhausted
#pragma once

#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>

#include "base/result.h"

namespace kmra::p11 {

// "CKR_PIN_INCORRECT"; "CKR_VENDOR_DEFINED+0x..." or "CKR_0x..." for values we do not know.
std::string RvName(CK_RV rv);

// The project error code for a CK_RV (see the table above). CKR_OK maps to Code::kOk.
Code RvCode(CK_RV rv);

// Error "function: CKR_NAME (0xNN)" with RvCode(rv). `rv` must not be CKR_OK.
Error RvError(std::string_view function, CK_RV rv);

// OkStatus() for CKR_OK, else RvError(function, rv).
Status CheckRv(std::string_view function, CK_RV rv);

// True for return values after which the session (or the whole module connection) is unusable and
// should be reopened: kConnectionLost below. RvCode maps exactly these to Unavailable.
bool IsConnectionLost(CK_RV rv);

// The one list of lost connections, each with the reason it is on it (printed by the tests and
// docs/hsm.md).
struct ConnectionLostRv {
  CK_RV rv;
  const char* why;
};
extern const ConnectionLostRv kConnectionLost[12];

}  // namespace kmra::p11
