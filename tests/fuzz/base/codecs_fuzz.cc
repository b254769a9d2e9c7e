// Hex, base64 and base64url decoders on arbitrary text. Besides not crashing, a strict decoder
// must be the exact inverse of its encoder: whatever it accepts re-encodes to the same text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/base64.h"
#include "base/hex.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto b = kmra::Base64Decode(text); b && kmra::Base64Encode(*b) != text) std::abort();
  if (auto u = kmra::Base64UrlDecode(text)) {
    std::string again = kmra::Base64UrlEncode(*u);
    // Padded base64url input is accepted too; compare without the padding.
    std::string_view unpadded = text.substr(0, text.find_last_not_of('=') + 1);
    if (text.find_first_not_of('=') == std::string_view::npos) unpadded = {};
    if (again != unpadded) std::abort();
  }
  if (auto h = kmra::HexDecode(text)) {
    std::string lower(text);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    if (kmra::HexEncode(*h) != lower) std::abort();
  }
  return 0;
}
