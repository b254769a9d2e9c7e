// A minimal, strict DER reader (definite lengths only): certificates (crypto/x509.h) and the PCK
// certificate's SGX extension are read with it.
#pragma once

#include <cstdint>
#include <span>

namespace kmra::crypto::der {

struct Tlv {
  uint8_t tag = 0;
  std::span<const uint8_t> value;
};

// Reads one TLV from the front of `in` and advances it. False on truncation, indefinite or
// over-long lengths, lengths not in DER's minimal form (long form below 128, or a leading zero
// length byte), or multi-byte tags (none occur in certificates or the SGX extension).
inline bool ReadTlv(std::span<const uint8_t>& in, Tlv* out) {
  if (in.size() < 2) return false;
  const uint8_t tag = in[0];
  if ((tag & 0x1f) == 0x1f) return false;
  size_t len = in[1];
  size_t pos = 2;
  if (len & 0x80) {
    const size_t n = len & 0x7f;
    if (n == 0 || n > 4 || in.size() < 2 + n || in[2] == 0) return false;
    len = 0;
    for (size_t i = 0; i < n; ++i) len = len << 8 | in[2 + i];
    if (len < 0x80) return false;
    pos += n;
  }
  if (in.size() - pos < len) return false;
  out->tag = tag;
  out->value = in.subspan(pos, len);
  in = in.subspan(pos + len);
  return true;
}

// Reads one TLV with tag `tag`; false when the next element is missing, malformed or another.
inline bool ReadTag(std::span<const uint8_t>& in, uint8_t tag, std::span<const uint8_t>* value) {
  Tlv t;
  if (!ReadTlv(in, &t) || t.tag != tag) return false;
  *value = t.value;
  return true;
}

// The whole encoding (tag, length and value) of the TLV at the front of `in`, without consuming it.
inline bool PeekWhole(std::span<const uint8_t> in, std::span<const uint8_t>* whole) {
  std::span<const uint8_t> rest = in;
  Tlv t;
  if (!ReadTlv(rest, &t)) return false;
  *whole = in.first(in.size() - rest.size());
  return true;
}

// Decodes a non-negative DER INTEGER of at most 4 value bytes; false otherwise.
inline bool DerUint(std::span<const uint8_t> v, uint32_t* out) {
  if (v.empty() || v.size() > 5 || (v[0] & 0x80)) return false;
  if (v.size() == 5 && v[0] != 0) return false;
  uint64_t x = 0;
  for (uint8_t b : v) x = x << 8 | b;
  if (x > 0xffffffffu) return false;
  *out = static_cast<uint32_t>(x);
  return true;
}

}  // namespace kmra::crypto::der
