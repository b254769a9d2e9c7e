// Builds DCAP v3 SGX quotes with certification data type 5 (PCK certificate chain), byte for byte
// like Intel's QE produces them (DCAP.md section 3). Used by SimPlatform; independent of where the
// keys come from, so tests can build quotes from any key set.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "enclave/report.h"

namespace kmra::enclave {

// Intel's QE puts 32 bytes 00 01 .. 1F as QE authentication data.
std::array<std::uint8_t, 32> DefaultQeAuthData();

// The QE's half of a quote, which does not depend on the enclave's report data: the QE report
// (whose report_data binds the attestation key) signed by the PCK key, with its auth data and the
// PCK chain. Prepare it once per attestation key with SignQeReport.
struct SignedQeReport {
  std::array<std::uint8_t, 64> attestation_public{};  // x||y
  std::array<std::uint8_t, kReportBodySize> qe_report{};
  std::array<std::uint8_t, 64> qe_report_signature{};  // r||s by the PCK key
  std::vector<std::uint8_t> qe_auth_data;
  std::vector<std::uint8_t> certification_data;  // PEM chain plus one trailing NUL
};

// Sets qe_report.report_data to SHA-256(attestation public x||y || auth data) || 32 zero bytes,
// signs the QE report with `pck_key`, and keeps `pck_chain_pem` (leaf, intermediate, root) as
// certification data type 5. Fails if a key is not P-256 or the chain is empty.
Result<SignedQeReport> SignQeReport(ReportBody qe_report, EVP_PKEY* attestation_key,
                                    EVP_PKEY* pck_key, std::span<const std::uint8_t> qe_auth_data,
                                    std::string_view pck_chain_pem);

// header || isv_report || u32 sig len || ISV signature (attestation key over header||report) ||
// attestation public key || QE report || QE signature || u16 auth len || auth || u16 type 5 ||
// u32 size || chain. `attestation_key` must be the key whose public half `qe` carries.
Result<std::vector<std::uint8_t>> BuildQuoteV3(const QuoteHeaderV3& header,
                                               const ReportBody& isv_report,
                                               EVP_PKEY* attestation_key,
                                               const SignedQeReport& qe);

}  // namespace kmra::enclave
