#include "base/hex.h"

namespace kmra {
namespace {

std::string Encode(std::span<const uint8_t> bytes, const char* digits) {
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  return out;
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Describe(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  static const char kDigits[] = "0123456789abcdef";
  return std::string("byte 0x") + kDigits[u >> 4] + kDigits[u & 0x0f];
}

}  // namespace

std::string HexEncode(std::span<const uint8_t> bytes) { return Encode(bytes, "0123456789abcdef"); }

std::string HexEncodeUpper(std::span<const uint8_t> bytes) {
  return Encode(bytes, "0123456789ABCDEF");
}

Result<std::vector<uint8_t>> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) {
    return InvalidArgument("hex text has an odd number of digits (" + std::to_string(text.size()) +
                           "); every byte takes two");
  }
  std::vector<uint8_t> out(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = DigitValue(text[i]);
    int lo = DigitValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      size_t bad = hi < 0 ? i : i + 1;
      return InvalidArgument("hex text has " + Describe(text[bad]) + " at position " +
                             std::to_string(bad) + "; only 0-9, a-f and A-F are allowed");
    }
    out[i / 2] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

}  // namespace kmra
