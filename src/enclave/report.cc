#include "enclave/report.h"

#include <algorithm>

#include "enclave/internal/le.h"

namespace kmra::enclave {

using internal::GetLe;
using internal::PutLe;

// Offsets from sgx_report_body_t (sgx_report.h; DCAP.md section 2).
namespace {
constexpr std::size_t kOffCpuSvn = 0;
constexpr std::size_t kOffMiscSelect = 16;
constexpr std::size_t kOffAttributes = 48;
constexpr std::size_t kOffMrEnclave = 64;
constexpr std::size_t kOffMrSigner = 128;
constexpr std::size_t kOffIsvProdId = 256;
constexpr std::size_t kOffIsvSvn = 258;
constexpr std::size_t kOffReportData = 320;
}  // namespace

std::array<std::uint8_t, kReportBodySize> ReportBody::Serialize() const {
  std::array<std::uint8_t, kReportBodySize> out{};
  std::copy(cpu_svn.begin(), cpu_svn.end(), out.begin() + kOffCpuSvn);
  PutLe<std::uint32_t>(out, kOffMiscSelect, misc_select);
  PutLe<std::uint64_t>(out, kOffAttributes, attribute_flags);
  PutLe<std::uint64_t>(out, kOffAttributes + 8, xfrm);
  std::copy(mr_enclave.begin(), mr_enclave.end(), out.begin() + kOffMrEnclave);
  std::copy(mr_signer.begin(), mr_signer.end(), out.begin() + kOffMrSigner);
  PutLe<std::uint16_t>(out, kOffIsvProdId, isv_prod_id);
  PutLe<std::uint16_t>(out, kOffIsvSvn, isv_svn);
  std::copy(report_data.begin(), report_data.end(), out.begin() + kOffReportData);
  return out;
}

ReportBody ReportBody::Parse(std::span<const std::uint8_t, kReportBodySize> in) {
  ReportBody r;
  std::copy_n(in.begin() + kOffCpuSvn, r.cpu_svn.size(), r.cpu_svn.begin());
  r.misc_select = GetLe<std::uint32_t>(in, kOffMiscSelect);
  r.attribute_flags = GetLe<std::uint64_t>(in, kOffAttributes);
  r.xfrm = GetLe<std::uint64_t>(in, kOffAttributes + 8);
  std::copy_n(in.begin() + kOffMrEnclave, 32, r.mr_enclave.begin());
  std::copy_n(in.begin() + kOffMrSigner, 32, r.mr_signer.begin());
  r.isv_prod_id = GetLe<std::uint16_t>(in, kOffIsvProdId);
  r.isv_svn = GetLe<std::uint16_t>(in, kOffIsvSvn);
  std::copy_n(in.begin() + kOffReportData, 64, r.report_data.begin());
  return r;
}

std::array<std::uint8_t, kQuoteHeaderSize> QuoteHeaderV3::Serialize() const {
  std::array<std::uint8_t, kQuoteHeaderSize> out{};
  PutLe<std::uint16_t>(out, 0, 3);   // version
  PutLe<std::uint16_t>(out, 2, 2);   // att_key_type: ECDSA-256-with-P-256
  PutLe<std::uint32_t>(out, 4, 0);   // att_key_data_0, read as tee_type by QVL: 0 = SGX
  PutLe<std::uint16_t>(out, 8, qe_svn);
  PutLe<std::uint16_t>(out, 10, pce_svn);
  std::copy(qe_vendor_id.begin(), qe_vendor_id.end(), out.begin() + 12);
  std::copy(user_data.begin(), user_data.end(), out.begin() + 28);
  return out;
}

}  // namespace kmra::enclave
