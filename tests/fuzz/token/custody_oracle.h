// The custody oracle of fuzz_token_abi: the key server's side of releases (one SWK and one released
// P-256 key for the run, wrapped as the server does) and the attacker's view of what is in custody,
// kept from call results only (never from the token's own marks). Any breach traps with a
// "CUSTODY ORACLE:" line: no output holds 16 bytes of the SWK or the released key, and no quoted
// key, SWK or released key is read or wrapped out.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

struct Custody {
  std::vector<uint8_t> swk;          // the key server's SWK (fixed for the run)
  std::vector<uint8_t> key_scalar;   // the released EC key's private scalar
  std::vector<uint8_t> key_der;      // its PKCS#8
  std::vector<uint8_t> wrapped_kwp;  // AES-KWP(swk, PKCS#8)
  std::vector<uint8_t> wrapped_gcm;  // iv || AES-GCM(swk, PKCS#8) || tag
  std::vector<uint8_t> wrapped_swk;  // RSA-OAEP(swk) to the last quoted key
  std::vector<std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE>> pairs;  // generated (pub, priv)
  std::set<CK_OBJECT_HANDLE> quoted, swks, released;                 // private halves, SWKs, keys
};
extern Custody g_custody;

// Makes the server's material (once, at LLVMFuzzerInitialize).
void InitCustody();
// Forgets the previous input's handles.
void ResetCustody();
[[noreturn]] void CustodyBroken(const char* what);
// Any output the attacker got back: none may hold a byte run of the SWK or the released key.
void CheckOutput(const uint8_t* p, size_t n);
bool InCustody(CK_OBJECT_HANDLE h);
// After a successful quote of `pub` (output `out`): its private half is in custody, and the server
// wraps the SWK to the quoted key.
void NoteQuote(CK_OBJECT_HANDLE pub, const uint8_t* out, size_t len);
// The last word on an input: every key in custody among `created` still refuses to be read, or to
// be wrapped under any of `wrapping_keys`.
void ProbeCustody(CK_SESSION_HANDLE s, const std::vector<CK_OBJECT_HANDLE>& created,
                  const std::vector<CK_OBJECT_HANDLE>& wrapping_keys);
