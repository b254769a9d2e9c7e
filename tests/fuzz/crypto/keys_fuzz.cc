// Public and private key parsing (SPKI, PKCS#8, PEM) and ECDSA signature decoding on arbitrary
// bytes.
#include <cstdint>
#include <string_view>

#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "crypto/rsa.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  if (auto k = kmra::crypto::PublicKey::FromSpkiDer(bytes)) {
    (void)k->ToSpkiDer();
    (void)kmra::crypto::RsaPublicNumbersOf(*k);
  }
  (void)kmra::crypto::PublicKey::FromPem(
      std::string_view(reinterpret_cast<const char*>(data), size));
  (void)kmra::crypto::PrivateKey::Parse(bytes);
  if (auto raw = kmra::crypto::EcdsaDerToRaw(bytes, 32)) {
    // What DerToRaw accepts, RawToDer must turn back into a signature DerToRaw accepts again.
    auto der = kmra::crypto::EcdsaRawToDer(*raw);
    if (!der || !kmra::crypto::EcdsaDerToRaw(*der, 32)) __builtin_trap();
  }
  ERR_clear_error();
  return 0;
}
