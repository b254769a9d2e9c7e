#include "enclave/pki/der.h"

#include <charconv>
#include <string>

namespace kmra::enclave::pki::der {

namespace {

void AppendBase128(Bytes& out, std::uint64_t v) {
  std::uint8_t tmp[10];
  int n = 0;
  do {
    tmp[n++] = static_cast<std::uint8_t>(v & 0x7f);
    v >>= 7;
  } while (v != 0);
  while (n > 0) {
    --n;
    out.push_back(static_cast<std::uint8_t>(tmp[n] | (n > 0 ? 0x80 : 0)));
  }
}

Bytes UnsignedContent(std::uint64_t value) {
  Bytes content;
  for (int shift = 56; shift >= 0; shift -= 8) {
    auto b = static_cast<std::uint8_t>(value >> shift);
    if (content.empty() && b == 0 && shift != 0) continue;
    content.push_back(b);
  }
  // A set top bit would make the value negative: prefix a zero byte (X.690 8.3.2).
  if (content.front() & 0x80) content.insert(content.begin(), 0);
  return content;
}

}  // namespace

Bytes Tlv(std::uint8_t tag, std::span<const std::uint8_t> content) {
  Bytes out{tag};
  const std::size_t len = content.size();
  if (len < 0x80) {
    out.push_back(static_cast<std::uint8_t>(len));
  } else {
    Bytes len_bytes;
    for (std::size_t l = len; l != 0; l >>= 8) len_bytes.insert(len_bytes.begin(), l & 0xff);
    out.push_back(static_cast<std::uint8_t>(0x80 | len_bytes.size()));
    out.insert(out.end(), len_bytes.begin(), len_bytes.end());
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes Sequence(std::initializer_list<Bytes> elements) {
  return SequenceOf(std::vector<Bytes>(elements));
}

Bytes SequenceOf(const std::vector<Bytes>& elements) {
  Bytes content;
  for (const auto& e : elements) content.insert(content.end(), e.begin(), e.end());
  return Tlv(0x30, content);
}

Bytes Oid(std::string_view dotted) {
  std::vector<std::uint64_t> arcs;
  std::size_t pos = 0;
  while (pos <= dotted.size()) {
    std::size_t dot = dotted.find('.', pos);
    if (dot == std::string_view::npos) dot = dotted.size();
    std::uint64_t v = 0;
    std::from_chars(dotted.data() + pos, dotted.data() + dot, v);
    arcs.push_back(v);
    pos = dot + 1;
  }
  Bytes content;
  AppendBase128(content, arcs[0] * 40 + (arcs.size() > 1 ? arcs[1] : 0));
  for (std::size_t i = 2; i < arcs.size(); ++i) AppendBase128(content, arcs[i]);
  return Tlv(0x06, content);
}

Bytes Integer(std::uint64_t value) { return Tlv(0x02, UnsignedContent(value)); }
Bytes Enumerated(std::uint64_t value) { return Tlv(0x0a, UnsignedContent(value)); }
Bytes OctetString(std::span<const std::uint8_t> bytes) { return Tlv(0x04, bytes); }
Bytes Boolean(bool value) {
  const std::uint8_t v = value ? 0xff : 0x00;
  return Tlv(0x01, std::span<const std::uint8_t>(&v, 1));
}

}  // namespace kmra::enclave::pki::der
