#include "server/json_secret.h"

#include <fmt/format.h>

#include <cstdint>
#include <span>

#include "base/error.h"

namespace kmra::server {
namespace {

// A forward-only reader over the body that finds value boundaries. Only the top-level object is
// checked strictly; other values are skipped by their boundaries and validated by the JSON parser
// that runs afterwards.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::size_t pos() const { return pos_; }
  void SkipBom() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // as the JSON parser does
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }
  bool Next(char c) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  bool Eat(char c) {
    if (!Next(c)) return false;
    ++pos_;
    return true;
  }

  tl::unexpected<Error> Fail(std::string_view what) const {
    return InvalidArgument(
        fmt::format("request body is not valid JSON at byte {}: {}", pos_, what));
  }

  // The string at pos() (which is a '"'), decoded into `out` (at least as long as the raw text);
  // returns the decoded length and moves past the closing quote.
  Result<std::size_t> String(std::span<std::uint8_t> out) {
    KMRA_ASSIGN_OR_RETURN(std::size_t end, StringEnd());
    std::size_t n = 0;
    std::size_t i = pos_ + 1;
    while (i < end) {
      const auto c = static_cast<unsigned char>(text_[i]);
      if (c < 0x20) return At(i, "control character inside a string");
      if (c != '\\') {
        out[n++] = c;
        ++i;
        continue;
      }
      const char e = text_[i + 1];  // StringEnd() saw the escaped character before `end`
      i += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out[n++] = static_cast<std::uint8_t>(e);
          break;
        case 'b':
          out[n++] = '\b';
          break;
        case 'f':
          out[n++] = '\f';
          break;
        case 'n':
          out[n++] = '\n';
          break;
        case 'r':
          out[n++] = '\r';
          break;
        case 't':
          out[n++] = '\t';
          break;
        case 'u': {
          KMRA_ASSIGN_OR_RETURN(std::uint32_t cp, Hex4(i, end));
          i += 4;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return At(i, "unpaired low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 2 > end || text_[i] != '\\' || text_[i + 1] != 'u') {
              return At(i, "unpaired high surrogate");
            }
            KMRA_ASSIGN_OR_RETURN(std::uint32_t low, Hex4(i + 2, end));
            if (low < 0xDC00 || low > 0xDFFF) return At(i, "unpaired high surrogate");
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          n += Utf8(cp, out.subspan(n));
          break;
        }
        default:
          return At(i - 1, "invalid escape in a string");
      }
    }
    pos_ = end + 1;
    return n;
  }

  // Moves past the value at pos(): a string, an object or array (by bracket depth), or a literal.
  Status SkipValue() {
    SkipSpace();
    if (pos_ >= text_.size()) return Fail("a value was expected");
    const char first = text_[pos_];
    if (first == '"') {
      KMRA_ASSIGN_OR_RETURN(std::size_t end, StringEnd());
      pos_ = end + 1;
      return {};
    }
    if (first == '{' || first == '[') {
      int depth = 0;
      while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c == '"') {
          KMRA_ASSIGN_OR_RETURN(std::size_t end, StringEnd());
          pos_ = end + 1;
          continue;
        }
        ++pos_;
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        if (depth == 0) return {};
      }
      return Fail("unterminated object or array");
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() &&
           std::string_view(",}] \t\n\r").find(text_[pos_]) == std::string_view::npos) {
      ++pos_;
    }
    if (pos_ == start) return Fail("a value was expected");
    return {};
  }

  // Length of the raw text of the string at pos(), quotes included.
  Result<std::size_t> RawStringLength() {
    KMRA_ASSIGN_OR_RETURN(std::size_t end, StringEnd());
    return end + 1 - pos_;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  tl::unexpected<Error> At(std::size_t where, std::string_view what) const {
    return InvalidArgument(
        fmt::format("request body is not valid JSON at byte {}: {}", where, what));
  }

  // Offset of the closing quote of the string that starts at pos_.
  Result<std::size_t> StringEnd() const {
    for (std::size_t i = pos_ + 1; i < text_.size(); ++i) {
      if (text_[i] == '\\') {
        ++i;
      } else if (text_[i] == '"') {
        return i;
      }
    }
    return Fail("unterminated string");
  }

  Result<std::uint32_t> Hex4(std::size_t at, std::size_t end) const {
    if (at + 4 > end) return At(at, "\\u needs four hex digits");
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text_[at + k];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return At(at + k, "\\u needs four hex digits");
      }
    }
    return v;
  }

  // UTF-8 of a code point; at most 4 bytes, and never more than the 6 or 12 escape characters it
  // came from, so `out` (as long as the raw text) has room.
  static std::size_t Utf8(std::uint32_t cp, std::span<std::uint8_t> out) {
    if (cp < 0x80) {
      out[0] = static_cast<std::uint8_t>(cp);
      return 1;
    }
    if (cp < 0x800) {
      out[0] = static_cast<std::uint8_t>(0xC0 | (cp >> 6));
      out[1] = static_cast<std::uint8_t>(0x80 | (cp & 0x3F));
      return 2;
    }
    if (cp < 0x10000) {
      out[0] = static_cast<std::uint8_t>(0xE0 | (cp >> 12));
      out[1] = static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      out[2] = static_cast<std::uint8_t>(0x80 | (cp & 0x3F));
      return 3;
    }
    out[0] = static_cast<std::uint8_t>(0xF0 | (cp >> 18));
    out[1] = static_cast<std::uint8_t>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<std::uint8_t>(0x80 | (cp & 0x3F));
    return 4;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<std::optional<SecretBytes>> TakeSecretMember(std::string& body, std::string_view name) {
  Scanner s(body);
  s.SkipBom();
  if (!s.Eat('{')) return s.Fail("a JSON object was expected");
  std::optional<SecretBytes> value;
  std::size_t value_start = 0;
  std::size_t value_end = 0;
  if (!s.Eat('}')) {
    while (true) {
      if (!s.Next('"')) return s.Fail("a member name was expected");
      KMRA_ASSIGN_OR_RETURN(std::size_t raw, s.RawStringLength());
      std::string member(raw, '\0');
      KMRA_ASSIGN_OR_RETURN(
          std::size_t n, s.String({reinterpret_cast<std::uint8_t*>(member.data()), member.size()}));
      member.resize(n);
      if (!s.Eat(':')) return s.Fail("':' was expected after a member name");
      if (member == name) {
        if (value) return s.Fail(fmt::format("member '{}' appears twice", name));
        if (!s.Next('"')) return s.Fail(fmt::format("member '{}' must be a string", name));
        value_start = s.pos();
        KMRA_ASSIGN_OR_RETURN(raw, s.RawStringLength());
        SecretBytes secret(raw);
        KMRA_ASSIGN_OR_RETURN(n, s.String(secret.RevealMutable()));
        secret.resize(n);  // shrinking keeps the (wiping) allocation
        value = std::move(secret);
        value_end = s.pos();
      } else {
        KMRA_TRY(s.SkipValue());
      }
      if (s.Eat(',')) continue;
      if (s.Eat('}')) break;
      return s.Fail("',' or '}' was expected");
    }
  }
  if (!s.AtEnd()) return s.Fail("text after the JSON object");
  if (value) {
    // `0` and spaces: a valid JSON value of the same length, so no byte of the body moves.
    body[value_start] = '0';
    for (std::size_t i = value_start + 1; i < value_end; ++i) body[i] = ' ';
  }
  return value;
}

}  // namespace kmra::server
