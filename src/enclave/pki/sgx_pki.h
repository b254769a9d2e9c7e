// The simulated Intel SGX attestation PKI that `kmra pki init` writes (docs/simulation.md):
//   DIR/sgx/root.pem                 "OpenKMRA Simulated SGX Root CA"
//   DIR/sgx/pck_platform_ca.pem      "OpenKMRA Simulated SGX PCK Platform CA"
//   DIR/sgx/tcb_signing.pem          "OpenKMRA Simulated SGX TCB Signing"
//   DIR/sgx/private/*.pem            the three CA/signing keys (0600)
//   DIR/sgx/platform-<n>/            one simulated platform each (see enclave/sim_layout.h)
//   DIR/collateral/<fmspc>/          signed TCB info v3, QE identity v2, CRLs and chains
// in the same file layout as Intel collateral bundles, so the DCAP verifier reads it unchanged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"

namespace kmra::enclave::pki {

// FMSPC of every simulated platform ("0FF1CE" marks it as ours).
inline constexpr char kSimFmspc[] = "0FF1CE000000";

// The TCB level a simulated platform's PCK certificate matches in the simulated TCB info.
enum class TcbProfile { kUpToDate, kSwHardeningNeeded, kOutOfDate, kRevoked };

// Parses "uptodate", "swhardening", "outofdate", "revoked" (case-insensitive; Intel's status names
// such as "OutOfDate" and "SWHardeningNeeded" are accepted too).
Result<TcbProfile> ParseTcbProfile(std::string_view text);

struct SimPlatformSpec {
  TcbProfile tcb = TcbProfile::kUpToDate;
  bool revoked_pck = false;  // listed in the PCK Platform CA CRL
};

struct SgxPkiOptions {
  int64_t now = 0;  // issue time; certificates start a day earlier, collateral an hour earlier
  std::vector<SimPlatformSpec> platforms{SimPlatformSpec{}};
  // TCB info and QE identity whose nextUpdate passed a day before `now` (CRLs stay valid).
  bool expired_collateral = false;
};

// Writes DIR/sgx and DIR/collateral/<fmspc>. Directories 0700, private keys and secrets 0600.
Status WriteSgxPki(const std::filesystem::path& dir, const SgxPkiOptions& options);

}  // namespace kmra::enclave::pki
