#include "server/attestor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

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

// The enclave identity of a quote that is refused before verification (for the audit record).
void FillIdentity(const dcap::Quote& q, AttestationResult* r) {
  if (!q.sgx) return;
  r->mrenclave = q.sgx->mr_enclave;
  r->mrsigner = q.sgx->mr_signer;
  r->report_data = q.sgx->report_data;
  r->isv_prod_id = q.sgx->isv_prod_id;
  r->isv_svn = q.sgx->isv_svn;
  r->debug = q.sgx->debug();
}

}  // namespace

Result<std::unique_ptr<Attestor>> Attestor::Create(const AttestorOptions& options,
                                                   PlatformCollateral& collateral) {
  dcap::VerifierOptions vo;
  vo.clock_skew_seconds = options.clock_skew_seconds;
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

Result<AttestationResult> Attestor::Check(std::span<const std::uint8_t> quote,
                                          std::int64_t now_unix) {
  // Parsed once; the parsed quote is handed down to the platform check and the verifier.
  auto parsed = dcap::ParseQuote(quote);
  if (!parsed) return tl::unexpected(parsed.error().WithContext("quote"));
  const dcap::Quote& q = *parsed;
  AttestationResult r;
  r.simulated_root = simulated_;
  // The PCK chain is verified up to the trusted root before its leaf's FMSPC chooses (and may
  // create, and fetch) a collateral entry: a forged leaf claiming some FMSPC costs no entry and
  // no fetch.
  dcap::Verifier::PlatformCheck platform = verifier_->Platform(q);
  if (!platform.chain_present) {
    return InvalidArgument("quote: the quote carries certification data type " +
                           std::to_string(q.cert_data.nested_type) +
                           " without a PCK certificate; supply the PCK chain");
  }
  if (!platform.platform) {
    FillIdentity(q, &r);
    for (const auto& e : platform.errors) r.failures.push_back({e.code, e.message});
    return r;
  }
  auto key = collateral::CollateralKey::Make(platform.platform->fmspc, platform.platform->tee,
                                             platform.platform->pck_ca);
  if (!key) return tl::unexpected(key.error().WithContext("quote"));
  auto entry = collateral_.For(*key, now_unix);
  if (!entry) return tl::unexpected(entry.error());
  r.fmspc = platform.platform->fmspc;
  if (!(*entry)->UsableAt(now_unix, collateral_.max_age())) {
    // Never verify against collateral that is no longer current (DCAP.md: nextUpdate).
    r.failures.push_back({"collateral.stale", (*entry)->Problem(now_unix, collateral_.max_age())});
    return r;
  }
  // The shared entry keeps the collateral alive for this call; no copy per request.
  const std::shared_ptr<const dcap::Collateral> collateral = (*entry)->collateral;
  dcap::VerificationReport report = verifier_->Verify(q, *collateral, now_unix);
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
  r.fmspc = report.fmspc.empty() ? platform.platform->fmspc : report.fmspc;
  r.collateral_issued_at = report.collateral_not_before;
  if (report.tee != "SGX" && !report.tee.empty()) {
    r.verified = false;
    r.failures.push_back({"quote.tee", "the quote is a " + report.tee +
                                           " quote; key release needs an SGX enclave quote"});
  }
  return r;
}

}  // namespace kmra::server
