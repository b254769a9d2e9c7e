#include "enclave/gramine_platform.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/file.h"
#include "crypto/hkdf.h"
#include "enclave/internal/le.h"
#include "enclave/report.h"

namespace kmra::enclave {

namespace {

constexpr std::string_view kSealingSaltText = "OpenKMRA gramine sealing v1";
const std::span<const uint8_t> kSealingSalt(
    reinterpret_cast<const uint8_t*>(kSealingSaltText.data()), kSealingSaltText.size());
// header(48) + SGX report body(384) + signature_data_len(4): the smallest prefix we read.
constexpr std::size_t kMinQuote = kQuoteHeaderSize + kReportBodySize + 4;
constexpr std::size_t kMaxQuote = 1 << 20;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

Status WriteAll(const std::string& path, std::span<const std::uint8_t> data) {
  // No O_CREAT/O_TRUNC: this is a Gramine pseudo-file that exists only inside an SGX enclave.
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return Unavailable(Errno("cannot open " + path +
                             " (is this running under Gramine-SGX with remote attestation "
                             "enabled, sgx.remote_attestation = \"dcap\"?)"));
  }
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto err = Unavailable(Errno("cannot write " + path));
      ::close(fd);
      return err;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return Unavailable(Errno("cannot close " + path));
  return OkStatus();
}

Result<std::vector<std::uint8_t>> ReadAll(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unavailable(Errno("cannot open " + path));
  std::vector<std::uint8_t> out;
  std::uint8_t buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = Unavailable(Errno("cannot read " + path));
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
    if (out.size() > kMaxQuote) {
      ::close(fd);
      return DataLoss(path + " returned more than 1 MiB; that is no DCAP quote");
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

Result<std::unique_ptr<GraminePlatform>> GraminePlatform::Open(const std::string& attestation_dir) {
  const std::string dir = attestation_dir.empty() ? kDefaultAttestationDir : attestation_dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Unavailable("attestation directory " + dir +
                       " does not exist: not running inside Gramine-SGX (use platform \"sim\" "
                       "on machines without SGX)");
  }
  const std::string type_path = dir + "/attestation_type";
  if (std::filesystem::exists(type_path, ec)) {
    KMRA_ASSIGN_OR_RETURN(auto type, ReadFileText(type_path));
    while (!type.empty() && (type.back() == '\n' || type.back() == '\0')) type.pop_back();
    if (type != "dcap") {
      return FailedPrecondition(
          type_path + " says \"" + type +
          "\"; OpenKMRA needs DCAP quotes (sgx.remote_attestation = \"dcap\")");
    }
  }
  std::unique_ptr<GraminePlatform> p(new GraminePlatform(dir));
  std::array<std::uint8_t, 64> zeros{};
  KMRA_ASSIGN_OR_RETURN(auto quote, p->Quote(zeros));
  auto body = ReportBody::Parse(std::span<const std::uint8_t, kReportBodySize>(
      quote.data() + kQuoteHeaderSize, kReportBodySize));
  p->identity_.kind = "gramine";
  p->identity_.mrenclave = body.mr_enclave;
  p->identity_.mrsigner = body.mr_signer;
  p->identity_.isv_prod_id = body.isv_prod_id;
  p->identity_.isv_svn = body.isv_svn;
  p->identity_.debug = (body.attribute_flags & kAttrDebug) != 0;
  return p;
}

Result<std::vector<std::uint8_t>> GraminePlatform::Quote(
    std::span<const std::uint8_t, 64> report_data) {
  std::lock_guard<std::mutex> lock(mu_);
  KMRA_TRY(WriteAll(dir_ + "/user_report_data", report_data));
  KMRA_ASSIGN_OR_RETURN(auto quote, ReadAll(dir_ + "/quote"));
  if (quote.size() < kMinQuote) {
    return DataLoss(dir_ + "/quote returned " + std::to_string(quote.size()) +
                    " bytes; a DCAP quote has at least " + std::to_string(kMinQuote));
  }
  const auto version = internal::GetLe<std::uint16_t>(quote, 0);
  const auto tee_type = internal::GetLe<std::uint32_t>(quote, 4);
  if ((version != 3 && version != 4) || tee_type != 0) {
    return DataLoss(dir_ + "/quote returned a quote of version " + std::to_string(version) +
                    " and TEE type " + std::to_string(tee_type) + "; expected an SGX v3/v4 quote");
  }
  // The ISV report data must be exactly what we wrote, or the quote does not bind our key.
  const std::size_t rd = kQuoteHeaderSize + 320;
  if (!std::equal(report_data.begin(), report_data.end(), quote.begin() + rd)) {
    return DataLoss(dir_ +
                    "/quote carries other report data than was written to user_report_data "
                    "(a concurrent writer in the enclave?)");
  }
  return quote;
}

Result<SecretBytes> GraminePlatform::SealingKey() {
  const std::string path = dir_ + "/keys/_sgx_mrenclave";
  KMRA_ASSIGN_OR_RETURN(auto ikm, ReadFileSecret(path));
  if (ikm.size() != 16) {
    return DataLoss(path + " holds " + std::to_string(ikm.size()) +
                    " bytes; Gramine's SGX sealing keys are 16 bytes");
  }
  return crypto::Hkdf(crypto::HashAlg::kSha256, ikm.Reveal(), kSealingSalt, {}, 32);
}

}  // namespace kmra::enclave
