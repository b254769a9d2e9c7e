// The client's RSA public key arrives as DER SubjectPublicKeyInfo in /v1 release requests.
#include <cstddef>
#include <cstdint>
#include <span>

#include "p11/wrap.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto key = kmra::p11::RsaPublicKeyFromSpki(std::span<const uint8_t>(data, size));
  if (key && (key->modulus.empty() || key->exponent.empty())) __builtin_trap();
  return 0;
}
