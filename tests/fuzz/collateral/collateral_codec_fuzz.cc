// Cached collateral rows and PCS issuer-chain headers are bytes from a database or the network:
// decoding them must fail cleanly, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "collateral/internal/codec.h"
#include "collateral/internal/http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  auto c = kmra::collateral::internal::DecodeCollateral(bytes);
  if (c) (void)kmra::collateral::internal::EarliestNextUpdate(*c);
  (void)kmra::collateral::internal::PercentDecode(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
