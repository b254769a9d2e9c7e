#include "server/attestor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/file.h"
#include "base/hex.h"
#include "collateral/source.h"

namespace kmra::server {
namespace {

template <size_t N>
void FromHex(const std::string& hex, std::array<std::uint8_t, N>* out) {
  auto bytes = HexDecode(hex);
  if (bytes && bytes->size() == N) std::copy(bytes->begin(), bytes->end(), out->begin());
}

}  // namespace

Result<std::unique_ptr<Attestor>> Attestor::Create(const AttestorOptions& options,
                                                   PlatformCollateral& collateral) {
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
        "[attestation] trust_simulated_root = true needs trusted_root: the PEM file of the "
        "simulated "
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
  return std::unique_ptr<Attestor>(new Attestor(std::move(*verifier), collateral, simulated));
}

Result<dcap::QuotePlatform> Attestor::PlatformOf(std::span<const std::uint8_t> quote) {
  constexpr std::size_t kMaxPlatforms = 1024;
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  auto parsed = dcap::ParseQuote(quote);
  if (!parsed || parsed->cert_data.pck_chain_pem.empty()) return dcap::InspectQuote(quote);
  const std::string& pem = parsed->cert_data.pck_chain_pem;
  const std::size_t end = pem.find(kEnd);
  std::string leaf = end == std::string::npos ? pem : pem.substr(0, end + kEnd.size());
  {
    std::lock_guard<std::mutex> lock(platforms_mu_);
    auto it = platforms_.find(leaf);
    if (it != platforms_.end()) {
      dcap::QuotePlatform p = it->second;
      p.tee_type = parsed->header.tee_type;  // from this quote's header, as InspectQuote does
      p.tee = dcap::TeeName(p.tee_type);
      return p;
    }
  }
  auto platform = dcap::InspectQuote(quote);
  if (platform) {
    std::lock_guard<std::mutex> lock(platforms_mu_);
    if (platforms_.size() >= kMaxPlatforms) platforms_.clear();
    platforms_.emplace(std::move(leaf), *platform);
  }
  return platform;
}

Result<AttestationResult> Attestor::Check(std::span<const std::uint8_t> quote,
                                          std::int64_t now_unix) {
  auto platform = PlatformOf(quote);
  if (!platform) return tl::unexpected(platform.error().WithContext("quote"));
  auto key = collateral::CollateralKey::Make(platform->fmspc, platform->tee, platform->pck_ca);
  if (!key) return tl::unexpected(key.error().WithContext("quote"));
  auto entry = collateral_.For(*key, now_unix);
  if (!entry) return tl::unexpected(entry.error());
  AttestationResult r;
  r.simulated_root = simulated_;
  r.fmspc = platform->fmspc;
  if (!(*entry)->UsableAt(now_unix, collateral_.max_age())) {
    // Never verify against collateral that is no longer current (DCAP.md: nextUpdate).
    r.failures.push_back({"collateral.stale", (*entry)->Problem(now_unix, collateral_.max_age())});
    return r;
  }
  // The shared entry keeps the collateral alive for this call; no copy per request.
  const std::shared_ptr<const dcap::Collateral> collateral = (*entry)->collateral;
  dcap::VerificationReport report = verifier_->Verify(quote, *collateral, now_unix);
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

}  // namespace kmra::server
