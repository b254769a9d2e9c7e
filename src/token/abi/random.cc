// Random number generation functions (PKCS#11 v2.40 §5.15): OpenSSL's DRBG.
#include <openssl/rand.h>

#include "token/abi/guard.h"

using kmra::token::Session;
using kmra::token::Token;
using kmra::token::abi::WithSession;

KMRA_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen) {
  return WithSession(hSession, [&](Token&, Session&) -> CK_RV {
    if (pSeed == nullptr && ulSeedLen > 0) return CKR_ARGUMENTS_BAD;
    // Extra input only adds to the DRBG's own entropy; it never replaces it.
    if (ulSeedLen > 0) RAND_add(pSeed, static_cast<int>(ulSeedLen), 0.0);
    return CKR_OK;
  });
}

KMRA_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData,
                                   CK_ULONG ulRandomLen) {
  return WithSession(hSession, [&](Token&, Session&) -> CK_RV {
    if (pRandomData == nullptr && ulRandomLen > 0) return CKR_ARGUMENTS_BAD;
    if (ulRandomLen > (1ul << 30)) return CKR_ARGUMENTS_BAD;
    if (ulRandomLen > 0 && RAND_bytes(pRandomData, static_cast<int>(ulRandomLen)) != 1) {
      return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
  });
}
