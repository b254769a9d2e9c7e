// Hexadecimal (RFC 4648 section 8, base16) encoding and strict decoding.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kmra {

// Lower-case hex of `bytes` ("00ff10"). Never fails.
std::string HexEncode(std::span<const uint8_t> bytes);

// Upper-case hex of `bytes` ("00FF10"), the RFC 4648 alphabet. Never fails.
std::string HexEncodeUpper(std::span<const uint8_t> bytes);

// Decodes hex digits of either case. Rejects an odd length and any other character (including
// whitespace and a "0x" prefix) with an InvalidArgument naming the offending position.
Result<std::vector<uint8_t>> HexDecode(std::string_view text);

}  // namespace kmra
