// A minimal DER writer (X.690) for the SGX PCK certificate extension, whose encoding must match
// Intel's byte for byte (DCAP.md section 7).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace kmra::enclave::pki::der {

using Bytes = std::vector<std::uint8_t>;

// tag || definite length || content.
Bytes Tlv(std::uint8_t tag, std::span<const std::uint8_t> content);
// SEQUENCE of already encoded elements.
Bytes Sequence(std::initializer_list<Bytes> elements);
Bytes SequenceOf(const std::vector<Bytes>& elements);
// OBJECT IDENTIFIER from dotted text ("1.2.840.113741.1.13.1.2.17").
Bytes Oid(std::string_view dotted);
// INTEGER of a non-negative value, minimal two's complement (255 -> 02 02 00 FF).
Bytes Integer(std::uint64_t value);
Bytes Enumerated(std::uint64_t value);
Bytes OctetString(std::span<const std::uint8_t> bytes);
Bytes Boolean(bool value);

}  // namespace kmra::enclave::pki::der
