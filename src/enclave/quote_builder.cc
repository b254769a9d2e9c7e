#include "enclave/quote_builder.h"

#include <algorithm>

#include "crypto/hash.h"
#include "enclave/internal/le.h"
#include "enclave/internal/p256.h"

namespace kmra::enclave {

namespace {
// sgx_ql_cert_key_type_t PCK_CERT_CHAIN (sgx_quote_3.h).
constexpr std::uint16_t kCertDataPckChain = 5;
}  // namespace

std::array<std::uint8_t, 32> DefaultQeAuthData() {
  std::array<std::uint8_t, 32> a{};
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>(i);
  return a;
}

Result<SignedQeReport> SignQeReport(ReportBody qe_report, EVP_PKEY* attestation_key,
                                    EVP_PKEY* pck_key, std::span<const std::uint8_t> qe_auth_data,
                                    std::string_view pck_chain_pem) {
  if (pck_chain_pem.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos) {
    return InvalidArgument("the PCK certificate chain holds no PEM certificate");
  }
  if (qe_auth_data.size() > 0xffff) {
    return InvalidArgument("QE authentication data is longer than 65535 bytes");
  }
  SignedQeReport out;
  KMRA_ASSIGN_OR_RETURN(out.attestation_public, internal::P256PublicRaw(attestation_key));
  out.qe_auth_data.assign(qe_auth_data.begin(), qe_auth_data.end());

  // QE report binding (DCAP.md section 3): SHA-256(attestation key || auth data) in the first
  // 32 bytes of the QE report data, zeros after.
  std::vector<std::uint8_t> bound(out.attestation_public.begin(), out.attestation_public.end());
  bound.insert(bound.end(), qe_auth_data.begin(), qe_auth_data.end());
  auto digest = crypto::Sha256(bound);
  qe_report.report_data.fill(0);
  std::copy(digest.begin(), digest.end(), qe_report.report_data.begin());
  out.qe_report = qe_report.Serialize();

  KMRA_ASSIGN_OR_RETURN(out.qe_report_signature, internal::SignP256Raw(pck_key, out.qe_report));

  out.certification_data.assign(pck_chain_pem.begin(), pck_chain_pem.end());
  // Real quotes carry the chain as a C string: one trailing NUL included in the size.
  if (out.certification_data.back() != 0) out.certification_data.push_back(0);
  return out;
}

Result<std::vector<std::uint8_t>> BuildQuoteV3(const QuoteHeaderV3& header,
                                               const ReportBody& isv_report,
                                               EVP_PKEY* attestation_key,
                                               const SignedQeReport& qe) {
  KMRA_ASSIGN_OR_RETURN(auto attestation_public, internal::P256PublicRaw(attestation_key));
  if (attestation_public != qe.attestation_public) {
    return InvalidArgument("the attestation key does not match the one the QE report binds");
  }
  std::vector<std::uint8_t> quote;
  const std::size_t sig_data_len = 64 + 64 + kReportBodySize + 64 + 2 + qe.qe_auth_data.size() +
                                   2 + 4 + qe.certification_data.size();
  quote.reserve(kQuoteHeaderSize + kReportBodySize + 4 + sig_data_len);
  auto h = header.Serialize();
  quote.insert(quote.end(), h.begin(), h.end());
  auto body = isv_report.Serialize();
  quote.insert(quote.end(), body.begin(), body.end());

  // The ISV signature covers header || report body, bytes [0, 432).
  KMRA_ASSIGN_OR_RETURN(auto isv_sig, internal::SignP256Raw(attestation_key, quote));

  internal::AppendLe<std::uint32_t>(quote, static_cast<std::uint32_t>(sig_data_len));
  quote.insert(quote.end(), isv_sig.begin(), isv_sig.end());
  quote.insert(quote.end(), qe.attestation_public.begin(), qe.attestation_public.end());
  quote.insert(quote.end(), qe.qe_report.begin(), qe.qe_report.end());
  quote.insert(quote.end(), qe.qe_report_signature.begin(), qe.qe_report_signature.end());
  internal::AppendLe<std::uint16_t>(quote, static_cast<std::uint16_t>(qe.qe_auth_data.size()));
  quote.insert(quote.end(), qe.qe_auth_data.begin(), qe.qe_auth_data.end());
  internal::AppendLe<std::uint16_t>(quote, kCertDataPckChain);
  internal::AppendLe<std::uint32_t>(quote,
                                    static_cast<std::uint32_t>(qe.certification_data.size()));
  quote.insert(quote.end(), qe.certification_data.begin(), qe.certification_data.end());
  return quote;
}

}  // namespace kmra::enclave
