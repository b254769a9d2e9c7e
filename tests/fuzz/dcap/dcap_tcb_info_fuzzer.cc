// TCB info JSON: signed-span extraction and the model parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dcap/tcb_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)kmra::dcap::ParseTcbInfo(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
