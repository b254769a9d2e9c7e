// platform.json of a simulated platform: malformed files must give an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "enclave/sim_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = kmra::enclave::SimPlatformInfo::FromJson(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (info) (void)kmra::enclave::SimPlatformInfo::FromJson(info->ToJson());
  return 0;
}
