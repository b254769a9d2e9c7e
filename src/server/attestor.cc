#include "server/attestor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "base/file.h"
#include "base/hex.h"

namespace kmra::server {
namespace {

template <size_t N>
void FromHex(const std::string& hex, std::array<std::uint8_t, N>* out) {
  auto bytes = HexDecode(hex);
  if (bytes && bytes->size() == N) std::copy(bytes->begin(), bytes->end(), out->begin());
}

}  // namespace

Result<std::unique_ptr<Attestor>> Attestor::Create(const AttestorOptions& options) {
  dcap::VerifierOptions vo;
  bool simulated = false;
  if (!options.trusted_root_file.empty()) {
    if (!options.trust_simulated_root) {
      return InvalidArgument(
          "[attestation] trusted_root names " + options.trusted_root_file +
          ", a root other than the Intel SGX Root CA; quotes chaining to it are not evidence of "
          "real SGX hardware. Set trust_simulated_root = true to accept it (development only)");
    }
    auto pem = ReadFileText(options.trusted_root_file, 1 << 20);
    if (!pem) return tl::unexpected(pem.error().WithContext("trusted root"));
    vo.trusted_root_pem = *pem;
    simulated = true;
  } else if (options.trust_simulated_root) {
    return InvalidArgument(
        "[attestation] trust_simulated_root = true needs trusted_root: the PEM file of the simulated "
        "root (DIR/sgx/root.pem of `kmra pki init`)");
  }
  auto verifier = dcap::Verifier::Create(vo);
  if (!verifier) return tl::unexpected(verifier.error().WithContext("quote verifier"));
  if (simulated) {
    spdlog::warn(
        "!!! TRUSTING THE SIMULATED SGX ROOT {} !!! Quotes are NOT evidence of SGX hardware; keys "
        "released by this server are not protected by an enclave. Development and CI only.",
        options.trusted_root_file);
  }
  return std::unique_ptr<Attestor>(new Attestor(std::move(*verifier), options, simulated));
}

Result<dcap::Collateral> Attestor::CollateralFor(const std::string& fmspc, std::int64_t now_unix) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(fmspc);
    if (it != cache_.end() && now_unix - it->second->loaded_at < options_.reload_seconds &&
        now_unix >= it->second->loaded_at) {
      return it->second->collateral;
    }
  }
  if (options_.collateral_dir.empty()) {
    return Unavailable("no collateral source is configured ([attestation] collateral_dir)");
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::path(options_.collateral_dir) / fmspc;
  if (!fs::is_directory(dir, ec)) {
    if (fs::exists(fs::path(options_.collateral_dir) / "tcbInfo.json", ec)) {
      dir = options_.collateral_dir;
    } else {
      return Unavailable("no collateral for FMSPC " + fmspc + ": " + dir.string() +
                         " does not exist");
    }
  }
  auto collateral = dcap::LoadCollateralDir(dir.string());
  if (!collateral) {
    return Unavailable("collateral for FMSPC " + fmspc + " cannot be loaded: " +
                       collateral.error().message());
  }
  auto cached = std::make_shared<Cached>();
  cached->collateral = std::move(*collateral);
  cached->loaded_at = now_unix;
  std::lock_guard<std::mutex> lock(mu_);
  cache_[fmspc] = cached;
  return cached->collateral;
}

Result<AttestationResult> Attestor::Check(std::span<const std::uint8_t> quote,
                                          std::int64_t now_unix) {
  auto platform = dcap::InspectQuote(quote);
  if (!platform) return tl::unexpected(platform.error().WithContext("quote"));
  KMRA_ASSIGN_OR_RETURN(dcap::Collateral collateral, CollateralFor(platform->fmspc, now_unix));
  dcap::VerificationReport report = verifier_->Verify(quote, collateral, now_unix);
  AttestationResult r;
  r.verified = report.verified;
  for (const auto& e : report.errors) r.failures.push_back({e.code, e.message});
  if (!r.verified && r.failures.empty()) {
    r.failures.push_back({"quote.unverified", "the verifier did not accept the quote"});
  }
  r.tcb_status = report.tcb_status;
  r.advisory_ids = report.advisory_ids;
  FromHex(report.mrenclave, &r.mrenclave);
  FromHex(report.mrsigner, &r.mrsigner);
  FromHex(report.report_data, &r.report_data);
  r.isv_prod_id = report.isv_prod_id;
  r.isv_svn = report.isv_svn;
  r.debug = report.debug;
  r.fmspc = report.fmspc.empty() ? platform->fmspc : report.fmspc;
  r.collateral_issued_at = report.collateral_not_before;
  r.simulated_root = simulated_;
  if (report.tee != "SGX" && !report.tee.empty()) {
    r.verified = false;
    r.failures.push_back({"quote.tee", "the quote is a " + report.tee +
                                           " quote; key release needs an SGX enclave quote"});
  }
  return r;
}

Result<dcap::Collateral> Attestor::AnyCollateral(std::int64_t now_unix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (options_.collateral_dir.empty()) return Unavailable("no collateral source is configured");
  if (fs::exists(fs::path(options_.collateral_dir) / "tcbInfo.json", ec)) {
    return dcap::LoadCollateralDir(options_.collateral_dir);
  }
  for (const auto& entry : fs::directory_iterator(options_.collateral_dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    auto c = CollateralFor(entry.path().filename().string(), now_unix);
    if (c) return c;
  }
  return NotFound("no collateral under " + options_.collateral_dir);
}

Status Attestor::Ready(std::int64_t now_unix) {
  if (options_.collateral_dir.empty()) {
    return Unavailable("no collateral source is configured");
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(fs::path(options_.collateral_dir) / "tcbInfo.json", ec)) {
    auto c = dcap::LoadCollateralDir(options_.collateral_dir);
    if (!c) return Unavailable("collateral: " + c.error().message());
    return OkStatus();
  }
  for (const auto& entry : fs::directory_iterator(options_.collateral_dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    auto c = CollateralFor(entry.path().filename().string(), now_unix);
    if (c) return OkStatus();
  }
  return Unavailable("no loadable collateral under " + options_.collateral_dir);
}

}  // namespace kmra::server
