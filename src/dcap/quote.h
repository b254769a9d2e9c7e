// DCAP quotes v3, v4 and v5 (Intel SGX ECDSA attestation): parsing only, no verification.
//
// Layouts follow Intel's sgx_quote_3.h / sgx_quote_4.h / sgx_quote_5.h (see docs/attestation.md).
// Every length is checked before it is used; a malformed quote gives an InvalidArgument error that
// names the field, its offset and what was expected. Bytes after the signature data are accepted
// (TDX quote buffers are often padded) and reported in Quote::trailing_bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace kmra::dcap {

inline constexpr uint32_t kTeeTypeSgx = 0x00000000;
inline constexpr uint32_t kTeeTypeTdx = 0x00000081;
inline constexpr uint16_t kAttKeyTypeEcdsaP256 = 2;
inline constexpr std::array<uint8_t, 16> kIntelQeVendorId = {
    0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07};

// Certification data types (sgx_ql_cert_key_type_t).
enum class CertDataType : uint16_t {
  kPpidCleartext = 1,
  kPpidRsa2048Encrypted = 2,
  kPpidRsa3072Encrypted = 3,
  kPckCleartext = 4,
  kPckCertChain = 5,
  kQeReportCertData = 6,
  kPlatformManifest = 7,
};

// The 48-byte quote header. For v3 the 4 bytes at offset 4 are att_key_data_0 and must be 0 (read as
// the TEE type, like Intel's QVL); qe_svn/pce_svn are v3 only (v4/v5 have 4 reserved bytes there).
struct QuoteHeader {
  uint16_t version = 0;
  uint16_t att_key_type = 0;
  uint32_t tee_type = 0;
  uint16_t qe_svn = 0;
  uint16_t pce_svn = 0;
  std::array<uint8_t, 16> qe_vendor_id{};
  std::array<uint8_t, 20> user_data{};
};

// sgx_report_body_t (384 bytes): the ISV enclave report of SGX quotes, and the QE report.
struct EnclaveReport {
  static constexpr size_t kSize = 384;
  std::array<uint8_t, 16> cpu_svn{};
  uint32_t misc_select = 0;
  std::array<uint8_t, 16> isv_ext_prod_id{};
  std::array<uint8_t, 16> attributes{};  // flags u64 LE (bit 1 DEBUG) || xfrm u64 LE
  std::array<uint8_t, 32> mr_enclave{};
  std::array<uint8_t, 32> mr_signer{};
  std::array<uint8_t, 64> config_id{};
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  uint16_t config_svn = 0;
  std::array<uint8_t, 16> isv_family_id{};
  std::array<uint8_t, 64> report_data{};
  std::array<uint8_t, kSize> raw{};  // the exact 384 bytes, as signed

  // Attribute flag bits (SGX SDM: SECS.ATTRIBUTES).
  uint64_t flags() const;
  bool debug() const { return (flags() & 0x2) != 0; }
};

// TD report 1.0 (584 bytes) and, for v5 body type 3, TD report 1.5 (648 bytes).
struct TdReport {
  std::array<uint8_t, 16> tee_tcb_svn{};
  std::array<uint8_t, 48> mr_seam{};
  std::array<uint8_t, 48> mrsigner_seam{};
  std::array<uint8_t, 8> seam_attributes{};
  std::array<uint8_t, 8> td_attributes{};  // bit 0 of byte 0: TUD.DEBUG
  std::array<uint8_t, 8> xfam{};
  std::array<uint8_t, 48> mr_td{};
  std::array<uint8_t, 48> mr_config_id{};
  std::array<uint8_t, 48> mr_owner{};
  std::array<uint8_t, 48> mr_owner_config{};
  std::array<std::array<uint8_t, 48>, 4> rtmr{};
  std::array<uint8_t, 64> report_data{};
  bool v15 = false;  // the two fields below are present
  std::array<uint8_t, 16> tee_tcb_svn2{};
  std::array<uint8_t, 48> mr_servicetd{};

  bool debug() const { return (td_attributes[0] & 0x1) != 0; }
};

// Certification data as declared in the quote. For type 6 the QE report, its signature and the QE
// authentication data live inside it and `nested_type`/`data` describe the nested certification data.
struct CertificationData {
  uint16_t type = 0;                 // outer type
  uint32_t declared_size = 0;        // outer size field
  uint16_t nested_type = 0;          // == type unless type is 6
  std::vector<uint8_t> data;         // payload of the innermost certification data
  // The PCK chain PEM when the innermost type is 5 (trailing NULs removed), else empty.
  std::string pck_chain_pem;
};

// A parsed quote. Owns copies of everything; `signed_bytes` is the exact region the attestation key
// signs (header || body, and for v5 the body type and size).
struct Quote {
  QuoteHeader header;
  uint16_t body_type = 1;             // 1 SGX report, 2 TD report 1.0, 3 TD report 1.5 (v5 field)
  std::optional<EnclaveReport> sgx;   // set for SGX quotes
  std::optional<TdReport> td;         // set for TDX quotes
  std::vector<uint8_t> signed_bytes;
  uint32_t signature_data_len = 0;
  size_t signature_data_offset = 0;   // absolute offset of the ISV signature
  std::array<uint8_t, 64> signature{};        // r || s, big-endian
  std::array<uint8_t, 64> attestation_key{};  // x || y, big-endian
  EnclaveReport qe_report;
  std::array<uint8_t, 64> qe_report_signature{};
  std::vector<uint8_t> qe_auth_data;
  CertificationData cert_data;
  size_t size = 0;                    // bytes consumed (without trailing bytes)
  size_t trailing_bytes = 0;          // bytes after the signature data

  bool is_tdx() const { return header.tee_type == kTeeTypeTdx; }
  // The report data of the ISV enclave or the TD.
  std::span<const uint8_t, 64> report_data() const;
};

// Parses a quote. Errors (InvalidArgument) name what was wrong: a truncated field with its offset, an
// unknown version, TEE type, body type, or certification data whose sizes do not add up. Unimplemented
// is returned for well-formed quotes this build cannot handle (P-384 attestation keys).
Result<Quote> ParseQuote(std::span<const uint8_t> bytes);

// Human-readable name of a TEE type ("SGX", "TDX", or "0x…").
std::string TeeName(uint32_t tee_type);

}  // namespace kmra::dcap
