// CRLs as collateral directories hold them (DER, PEM or hex) and the PEM certificate chain parser.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/crl.h"
#include "crypto/x509.h"
#include "dcap/collateral.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto der = kmra::dcap::CrlToDer(bytes);
  if (der) (void)kmra::crypto::ParseCrl(*der, "crl");
  (void)kmra::crypto::ParsePemChain(std::string_view(reinterpret_cast<const char*>(data), size),
                                    "chain");
  return 0;
}
