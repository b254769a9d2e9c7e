// The one guard every C_* entry point runs its body in: no exception ever crosses the C ABI
// (std::bad_alloc -> CKR_HOST_MEMORY, anything else -> CKR_GENERAL_ERROR), and the PKCS#11 check
// order (not initialised, then session, then arguments) in one place.
#pragma once

#include <p11-kit/pkcs11.h>

#include <new>

#include "token/module.h"

#define KMRA_EXPORT extern "C" __attribute__((visibility("default")))

namespace kmra::token::abi {

template <class F>
CK_RV Guard(F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return CKR_HOST_MEMORY;
  } catch (...) {
    return CKR_GENERAL_ERROR;
  }
}

// Runs body(token) with the module lock held, or returns CKR_CRYPTOKI_NOT_INITIALIZED.
template <class F>
CK_RV WithToken(F&& body) noexcept {
  return Guard([&]() -> CK_RV {
    Access a = Enter();
    if (a.rv != CKR_OK) return a.rv;
    return body(*a.token);
  });
}

// Runs body(token, session) for a valid session handle, or returns the first failing check.
template <class F>
CK_RV WithSession(CK_SESSION_HANDLE h, F&& body) noexcept {
  return WithToken([&](Token& t) -> CK_RV {
    Session* s = t.FindSession(h);
    if (s == nullptr) return CKR_SESSION_HANDLE_INVALID;
    return body(t, *s);
  });
}

// A function the token does not offer: CKR_FUNCTION_NOT_SUPPORTED after the not-initialised and
// session checks.
inline CK_RV NotSupported(CK_SESSION_HANDLE h) noexcept {
  return WithSession(h, [](Token&, Session&) { return CKR_FUNCTION_NOT_SUPPORTED; });
}

// Copies `n` bytes to a caller buffer with the PKCS#11 length convention (§5.2): a NULL buffer
// asks for the length, a short buffer gives CKR_BUFFER_TOO_SMALL and the needed length.
CK_RV ReturnBytes(const uint8_t* data, size_t n, CK_BYTE_PTR out, CK_ULONG_PTR out_len);

}  // namespace kmra::token::abi
