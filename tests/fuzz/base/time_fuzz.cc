// ParseTime on arbitrary text; an accepted RFC 3339 time inside years 0000-9999 must survive a
// FormatRfc3339 round trip.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = kmra::ParseTime(text);
  if (t && *t >= -62167219200 && *t <= 253402300799) {
    auto back = kmra::ParseTime(kmra::FormatRfc3339(*t));
    if (!back || *back != *t) std::abort();
  }
  return 0;
}
