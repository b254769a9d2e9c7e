// Quote verification for the key server: dcap::Verifier (caching, thread safe) with collateral picked by
// the quote's FMSPC from a collateral directory, reduced to the AttestationResult the policy and the
// audit need.
//
// Trust: the Intel SGX Root CA compiled into the verifier, unless the configuration names another root
// *and* says trust_simulated_root = true (development and CI with `kmra pki init`); that choice is
// logged loudly at start and reported by TrustsSimulatedRoot() for /readyz and every audit record.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "base/result.h"
#include "dcap/collateral.h"
#include "dcap/verifier.h"
#include "server/attestation.h"

namespace kmra::server {

struct AttestorOptions {
  std::string trusted_root_file;    // empty: Intel SGX Root CA
  bool trust_simulated_root = false;
  // Offline collateral: DIR/<FMSPC>/ (as `kmra pki init` and Intel bundles lay it out), or DIR itself
  // when it holds tcbInfo.json. Re-read after `reload_seconds` so refreshed files apply without restart.
  std::string collateral_dir;
  std::int64_t reload_seconds = 60;
};

class Attestor {
 public:
  // Errors name the root file or explain why a non-Intel root was refused.
  static Result<std::unique_ptr<Attestor>> Create(const AttestorOptions& options);

  // Verifies a quote at `now_unix`. A quote failing a check is a successful call with verified=false and
  // the verifier's error codes in `failures`. InvalidArgument: the bytes are not a quote.
  // Unavailable: no collateral for the quote's platform.
  Result<AttestationResult> Check(std::span<const std::uint8_t> quote, std::int64_t now_unix);

  // The collateral for an FMSPC (upper-case hex), from the cache or the directory.
  Result<dcap::Collateral> CollateralFor(const std::string& fmspc, std::int64_t now_unix);

  // The collateral of the first platform found (QE identity and CRLs are shared by all platforms).
  Result<dcap::Collateral> AnyCollateral(std::int64_t now_unix);

  // OK when at least one collateral set loads and its TCB info is within its validity at `now_unix`
  // (checked by the verifier on the next quote; here: loadable).
  Status Ready(std::int64_t now_unix);

  bool TrustsSimulatedRoot() const { return simulated_; }

 private:
  Attestor(std::unique_ptr<dcap::Verifier> verifier, AttestorOptions options, bool simulated)
      : verifier_(std::move(verifier)), options_(std::move(options)), simulated_(simulated) {}

  struct Cached {
    dcap::Collateral collateral;
    std::int64_t loaded_at = 0;
  };

  std::unique_ptr<dcap::Verifier> verifier_;
  AttestorOptions options_;
  bool simulated_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Cached>> cache_;
};

}  // namespace kmra::server
