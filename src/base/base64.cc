#include "base/base64.h"

#include <array>

namespace kmra {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using Table = std::array<int16_t, 256>;  // -1: not in the alphabet

constexpr Table MakeTable(const char* alphabet) {
  Table t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int16_t>(i);
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

// First character outside the alphabet (ignoring '='), as an error; OkStatus when there is none.
Status CheckAlphabet(std::string_view text, const Table& table, const std::string& kind) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=' && table[static_cast<unsigned char>(text[i])] < 0) {
      // NOLINTNEXTLINE(performance-inefficient-string-concatenation): runs once (returns)
      return InvalidArgument(kind + " text has " + Describe(text[i]) + ", not in the " + kind +
                             " alphabet, at position " + std::to_string(i));
    }
  }
  return OkStatus();
}

// `name` is "base64" or "base64url", for messages. `padding_required`: standard base64 needs
// padding; base64url may omit it but, when present, it must be complete.
Result<std::vector<uint8_t>> Decode(std::string_view text, const Table& table, const char* name,
                                    bool padding_required) {
  const std::string kind(name);
  size_t data_len = text.size();
  while (data_len > 0 && text[data_len - 1] == '=') --data_len;
  const size_t pad = text.size() - data_len;
  const size_t rest = data_len % 4;
  std::string length_error;
  if (pad > 2) {
    length_error = kind + " text ends with " + std::to_string(pad) +
                   " '=' characters; at most 2 are allowed";
  } else if ((padding_required || pad > 0) && text.size() % 4 != 0) {
    length_error = kind + " text is " + std::to_string(text.size()) + " characters long; padded " +
                   kind + " is a multiple of 4";
  } else if (rest == 1) {
    length_error = kind + " text has " + std::to_string(data_len) +
                   " data characters, which no byte count encodes to (one too many or three "
                   "missing)";
  } else if (pad > 0 && (rest + pad) != 4) {
    length_error = kind + " text has " + std::to_string(pad) + " padding characters where " +
                   std::to_string(4 - rest) + " belong";
  }
  if (!length_error.empty()) {
    // Stray characters explain a wrong length better than the length does.
    KMRA_TRY(CheckAlphabet(text, table, kind));
    return InvalidArgument(std::move(length_error));
  }

  std::vector<uint8_t> out(data_len / 4 * 3 + (rest == 0 ? 0 : rest - 1));
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto bad_at = [&](size_t from) -> tl::unexpected<Error> {
    for (size_t i = from; i < data_len; ++i) {
      if (table[in[i]] >= 0) continue;
      if (in[i] == '=') {
        return InvalidArgument(kind + " text has padding '=' inside the data at position " +
                               std::to_string(i));
      }
      // NOLINTNEXTLINE(performance-inefficient-string-concatenation): runs once (returns)
      return InvalidArgument(kind + " text has " + Describe(text[i]) + ", not in the " + kind +
                             " alphabet, at position " + std::to_string(i));
    }
    return InvalidArgument(kind + " text is malformed");  // not reached
  };
  size_t i = 0;
  size_t o = 0;
  for (; i + 4 <= data_len; i += 4, o += 3) {
    const int a = table[in[i]], b = table[in[i + 1]], c = table[in[i + 2]], d = table[in[i + 3]];
    if ((a | b | c | d) < 0) return bad_at(i);
    const uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    out[o] = static_cast<uint8_t>(v >> 16);
    out[o + 1] = static_cast<uint8_t>(v >> 8);
    out[o + 2] = static_cast<uint8_t>(v);
  }
  if (rest > 0) {
    uint32_t v = 0;
    for (size_t k = 0; k < rest; ++k) {
      const int x = table[in[i + k]];
      if (x < 0) return bad_at(i);
      v |= uint32_t(x) << (18 - 6 * k);
    }
    out[o] = static_cast<uint8_t>(v >> 16);
    if (rest == 3) out[o + 1] = static_cast<uint8_t>(v >> 8);
    // RFC 4648 section 3.5: the unused bits of the last symbol must be zero in a canonical encoding.
    const uint32_t unused = rest == 2 ? (v & 0xffff) : (v & 0xff);
    if (unused != 0) {
      return InvalidArgument(kind + " text is not canonical: the last character (position " +
                             std::to_string(data_len - 1) + ") carries non-zero unused bits");
    }
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
