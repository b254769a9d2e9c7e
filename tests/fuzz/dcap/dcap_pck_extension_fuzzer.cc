// The PCK certificate's SGX extension (DER).
#include <cstddef>
#include <cstdint>
#include <span>

#include "dcap/pck_extension.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)kmra::dcap::ParsePckExtension(std::span<const uint8_t>(data, size));
  return 0;
}
