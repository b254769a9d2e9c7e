// Quote verification for the key server: dcap::Verifier (caching, thread safe) with the collateral
// of the quote's platform (FMSPC, TEE, PCK CA from dcap::InspectQuote) from the server's collateral
// chain (platform_collateral.h), reduced to the AttestationResult the policy and the audit need.
//
// Trust: the Intel SGX Root CA compiled into the verifier, unless the configuration names another
// root *and* says trust_simulated_root = true (development and CI with `kmra pki init`); that
// choice is logged loudly at start and reported by TrustsSimulatedRoot() for /readyz and every
// audit record.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "base/result.h"
#include "dcap/collateral.h"
#include "dcap/verifier.h"
#include "server/attestation.h"
#include "server/platform_collateral.h"

namespace kmra::server {

struct AttestorOptions {
  std::string trusted_root_file;  // empty: Intel SGX Root CA
  bool trust_simulated_root = false;
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
  // nextUpdate and why the refresh failed. InvalidArgument: the bytes are not a quote. Unavailable:
  // no collateral at all loads for the quote's platform.
  Result<AttestationResult> Check(std::span<const std::uint8_t> quote, std::int64_t now_unix);

  // The server's collateral per platform (for /readyz and the PCCS-compatible paths).
  PlatformCollateral& collateral() { return collateral_; }

  bool TrustsSimulatedRoot() const { return simulated_; }

 private:
  Attestor(std::unique_ptr<dcap::Verifier> verifier, PlatformCollateral& collateral, bool simulated)
      : verifier_(std::move(verifier)), collateral_(collateral), simulated_(simulated) {}

  // dcap::InspectQuote, remembered per PCK leaf certificate: decoding the certificate costs about
  // twice a warm verification, and a platform presents the same one on every release.
  Result<dcap::QuotePlatform> PlatformOf(std::span<const std::uint8_t> quote);

  std::unique_ptr<dcap::Verifier> verifier_;
  PlatformCollateral& collateral_;
  bool simulated_;
  std::mutex platforms_mu_;
  std::unordered_map<std::string, dcap::QuotePlatform> platforms_;  // by PCK leaf PEM
};

}  // namespace kmra::server
