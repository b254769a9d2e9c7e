// RFC 7512 URIs come from configuration and command lines (kmra loadkey, nginx-config).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "p11/uri.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto uri = kmra::p11::ParseUri(text);
  if (uri) {
    // Whatever parsed must format and parse again to the same fields.
    auto formatted = kmra::p11::FormatUri(*uri, /*include_pin=*/true);
    if (formatted) {
      auto again = kmra::p11::ParseUri(*formatted);
      if (!again || again->token != uri->token || again->object != uri->object || again->id != uri->id) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
