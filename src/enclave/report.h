// The SGX enclave report body (sgx_report_body_t, 384 bytes) and the DCAP v3 quote header, as byte
// layouts. See DCAP.md sections 1-3. All integers little-endian.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace kmra::enclave {

inline constexpr std::size_t kReportBodySize = 384;
inline constexpr std::size_t kQuoteHeaderSize = 48;

// SGX attribute flag bits (SECS.ATTRIBUTES.FLAGS).
inline constexpr std::uint64_t kAttrInit = 0x01;
inline constexpr std::uint64_t kAttrDebug = 0x02;
inline constexpr std::uint64_t kAttrMode64 = 0x04;
inline constexpr std::uint64_t kAttrProvisionKey = 0x10;
// XFRM that real enclaves on current CPUs carry (x87, SSE, AVX, AVX-512 state).
inline constexpr std::uint64_t kDefaultXfrm = 0xe7;

// Intel's QE vendor id (QuoteConstants.h INTEL_QE_VENDOR_ID).
inline constexpr std::array<std::uint8_t, 16> kIntelQeVendorId = {
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

// The fields of sgx_report_body_t that a quote producer sets; everything else is zero.
struct ReportBody {
  std::array<std::uint8_t, 16> cpu_svn{};
  std::uint32_t misc_select = 0;
  std::uint64_t attribute_flags = 0;
  std::uint64_t xfrm = 0;
  std::array<std::uint8_t, 32> mr_enclave{};
  std::array<std::uint8_t, 32> mr_signer{};
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  std::array<std::uint8_t, 64> report_data{};

  // The 384 bytes at the offsets of sgx_report_body_t.
  std::array<std::uint8_t, kReportBodySize> Serialize() const;
  // Reads the fields back from 384 bytes (the inverse of Serialize for the fields above).
  static ReportBody Parse(std::span<const std::uint8_t, kReportBodySize> bytes);
};

// The v3 quote header (sgx_quote_header_t).
struct QuoteHeaderV3 {
  std::uint16_t qe_svn = 0;
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 16> qe_vendor_id = kIntelQeVendorId;
  std::array<std::uint8_t, 20> user_data{};

  // version 3, att_key_type 2 (ECDSA P-256), att_key_data_0 0 (SGX), then the fields above.
  std::array<std::uint8_t, kQuoteHeaderSize> Serialize() const;
};

}  // namespace kmra::enclave
