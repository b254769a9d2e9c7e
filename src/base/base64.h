// Strict base64 and base64url (RFC 4648 sections 4 and 5).
//
// Decoders accept exactly the canonical encoding: no whitespace, no line breaks, no characters from
// the other alphabet, padding only where RFC 4648 puts it, and the unused bits of the last symbol
// zero (section 3.5). Anything else is an InvalidArgument naming what was wrong and where.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kmra {

// Standard alphabet (+/), always padded with '=' to a multiple of 4 characters.
std::string Base64Encode(std::span<const uint8_t> bytes);

// Decodes standard, padded base64. The length must be a multiple of 4.
Result<std::vector<uint8_t>> Base64Decode(std::string_view text);

// URL and file name safe alphabet (-_), without padding (the form JOSE and URLs use).
std::string Base64UrlEncode(std::span<const uint8_t> bytes);

// Decodes base64url, either unpadded or correctly padded to a multiple of 4 characters.
Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);

}  // namespace kmra
