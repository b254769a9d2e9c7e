#include "base/base64.h"

#include <array>

namespace kmra {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using Table = std::array<int8_t, 256>;

constexpr Table MakeTable(const char* alphabet) {
  Table t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}

constexpr Table kStdTable = MakeTable(kStd);
constexpr Table kUrlTable = MakeTable(kUrl);

std::string Encode(std::span<const uint8_t> in, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{in[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

std::string Describe(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  static const char kDigits[] = "0123456789abcdef";
  return std::string("byte 0x") + kDigits[u >> 4] + kDigits[u & 0x0f];
}

// `name` is "base64" or "base64url", for messages. `padding_required`: standard base64 needs
// padding; base64url may omit it but, when present, it must be complete.
Result<std::vector<uint8_t>> Decode(std::string_view text, const Table& table, const char* name,
                                    bool padding_required) {
  const std::string kind(name);
  // Stray characters first: they explain a wrong length better than the length does.
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=' && table[static_cast<unsigned char>(text[i])] < 0) {
      return InvalidArgument(kind + " text has " + Describe(text[i]) + ", not in the " + kind +
                             " alphabet, at position " + std::to_string(i));
    }
  }
  size_t data_len = text.size();
  while (data_len > 0 && text[data_len - 1] == '=') --data_len;
  size_t pad = text.size() - data_len;
  if (pad > 2) {
    return InvalidArgument(kind + " text ends with " + std::to_string(pad) +
                           " '=' characters; at most 2 are allowed");
  }
  if (padding_required || pad > 0) {
    if (text.size() % 4 != 0) {
      return InvalidArgument(kind + " text is " + std::to_string(text.size()) +
                             " characters long; padded " + kind + " is a multiple of 4");
    }
  }
  size_t rest = data_len % 4;
  if (rest == 1) {
    return InvalidArgument(kind + " text has " + std::to_string(data_len) +
                           " data characters, which no byte count encodes to (one too many or "
                           "three missing)");
  }
  if (pad > 0 && (rest + pad) != 4) {
    return InvalidArgument(kind + " text has " + std::to_string(pad) +
                           " padding characters where " + std::to_string(4 - rest) +
                           " belong");
  }

  std::vector<uint8_t> out;
  out.reserve(data_len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data_len; ++i) {
    int8_t v = table[static_cast<unsigned char>(text[i])];
    if (v < 0) {
      // Only '=' is left here: the alphabet was checked above.
      return InvalidArgument(kind + " text has padding '=' inside the data at position " +
                             std::to_string(i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // RFC 4648 section 3.5: the unused bits of the last symbol must be zero in a canonical encoding.
  if (acc != 0) {
    return InvalidArgument(kind + " text is not canonical: the last character (position " +
                           std::to_string(data_len - 1) + ") carries non-zero unused bits");
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::span<const uint8_t> bytes) { return Encode(bytes, kStd, true); }

Result<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  return Decode(text, kStdTable, "base64", true);
}

std::string Base64UrlEncode(std::span<const uint8_t> bytes) { return Encode(bytes, kUrl, false); }

Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text) {
  return Decode(text, kUrlTable, "base64url", false);
}

}  // namespace kmra
