// Quote verification for the key server: the quote is parsed once; its PCK chain is verified up to
// the trusted root (dcap::Verifier::Platform) before the FMSPC, TEE and PCK CA of its leaf choose
// the collateral from the server's collateral chain (platform_collateral.h); then dcap::Verifier
// (caching, thread safe) checks everything else. The outcome is reduced to the AttestationResult
// the policy and the audit need.
//
// Trust: the Intel SGX Root CA compiled into the verifier, unless the configuration names another
// root *and* says trust_simulated_root = true (development and CI with `kmra pki init`); that
// choice is logged loudly at start and reported by TrustsSimulatedRoot() for /readyz and every
// audit record.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/result.h"
#include "dcap/collateral.h"
#include "dcap/verifier.h"
#include "server/attestation.h"
#include "server/platform_collateral.h"

namespace kmra::server {

struct AttestorOptions {
  std::string trusted_root_file;  // empty: Intel SGX Root CA
  bool trust_simulated_root = false;
  // Seconds a collateral document's issueDate/thisUpdate may lie after the verification time
  // (dcap::VerifierOptions::clock_skew_seconds; [attestation] clock_skew).
  std::int64_t clock_skew_seconds = 0;
};

class Attestor {
 public:
  // `collateral` must outlive the attestor. Errors name the root file or explain why a non-Intel
  // root was refused.
  static Result<std::unique_ptr<Attestor>> Create(const AttestorOptions& options,
                                                  PlatformCollateral& collateral);

  // Verifies a quote at `now_unix`. A quote failing a check is a successful call with
  // verified=false and the verifier's error codes in `failures`; collateral past its nextUpdate (or
  // older than collateral_max_age) is the failure "collateral.stale", naming the FMSPC, the
  // nextUpdate and why the refresh failed. A quote whose PCK chain does not lead to the trusted
  // root fails with pck_chain.untrusted (pck.extension_invalid for an unreadable leaf) without
  // asking the collateral chain at all. InvalidArgument: the bytes are not a quote, or it carries
  // no PCK chain. Unavailable: no collateral at all loads for the quote's platform.
  Result<AttestationResult> Check(std::span<const std::uint8_t> quote, std::int64_t now_unix);

  // The server's collateral per platform (for /readyz and the PCCS-compatible paths).
  PlatformCollateral& collateral() { return collateral_; }

  bool TrustsSimulatedRoot() const { return simulated_; }

 private:
  Attestor(std::unique_ptr<dcap::Verifier> verifier, PlatformCollateral& collateral, bool simulated)
      : verifier_(std::move(verifier)), collateral_(collateral), simulated_(simulated) {}

  std::unique_ptr<dcap::Verifier> verifier_;
  PlatformCollateral& collateral_;
  bool simulated_;
};

}  // namespace kmra::server
