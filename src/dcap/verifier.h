// DCAP quote verification (Intel QVL's algorithm, DCAP.md §11) with a report, and the quote facts a
// key server needs to pick collateral before verifying.
//
//   auto verifier = dcap::Verifier::Create({});          // trusts the compiled-in Intel SGX Root
//   CA dcap::VerificationReport r = (*verifier)->Verify(quote_bytes, collateral, clock.NowUnix());
//   if (r.verified && r.tcb_status == "UpToDate") ...
//
// Thread safety: Verify may be called concurrently from any number of threads.
// Caching: collateral is parsed and its signatures checked once per distinct collateral content,
// PCK chains once per chain and collateral, QE report signatures once per PCK certificate and QE
// report, attestation keys once per key. Caches are bounded LRUs. Every time-dependent check runs
// on every call, so a cached verifier returns exactly what an uncached one does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "dcap/collateral.h"
#include "dcap/quote.h"
#include "dcap/report.h"

namespace kmra::dcap {

struct VerifierOptions {
  // PEM of the trust anchor; empty: the compiled-in Intel SGX Root CA. A custom root (e.g. the
  // simulated one of `kmra pki init`) goes through the same checks; names need only contain QVL's
  // "SGX Root CA" / "CA" / "SGX PCK Certificate" / "SGX TCB Signing".
  std::string trusted_root_pem;
  bool enable_cache = true;
  size_t cache_entries = 256;  // per cache
  // Seconds a document's start (TCB info and QE identity issueDate, CRL thisUpdate) may lie after
  // the verification time and still be accepted: the allowance for a verifier clock behind Intel's.
  // 0 (the default) is as strict as the nextUpdate checks.
  int64_t clock_skew_seconds = 0;
};

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  size_t entries = 0;
};

class Verifier {
 public:
  // InvalidArgument when the trusted root PEM does not hold exactly one certificate.
  static Result<std::unique_ptr<Verifier>> Create(VerifierOptions options);
  ~Verifier();

  // Verifies `quote` against `collateral` at `at_unix` (seconds). `pck_chain_pem`, when not empty,
  // is the PCK chain to use (required for certification data types 1-4; it replaces the quote's own
  // chain otherwise). `collateral.trusted_root_pem` is ignored: the trust anchor is the verifier's.
  VerificationReport Verify(std::span<const uint8_t> quote, const Collateral& collateral,
                            int64_t at_unix, std::string_view pck_chain_pem = {}) const;
  // As above for a quote already parsed (ParseQuote), so a caller parses it once.
  VerificationReport Verify(const Quote& quote, const Collateral& collateral, int64_t at_unix,
                            std::string_view pck_chain_pem = {}) const;

  // The platform of `quote` read from a PCK certificate that is vouched for: the PCK chain (as
  // Verify chooses it) parses, is named as QVL expects, every signature verifies and it ends in the
  // trusted root. What needs collateral or a time (CRLs, expiry) is left to Verify. A server uses
  // this to choose collateral only for platforms the trusted root vouches for.
  struct PlatformCheck;
  PlatformCheck Platform(const Quote& quote, std::string_view pck_chain_pem = {}) const;

  // Totals over all caches (zeros when caching is off).
  CacheStats Stats() const;

 private:
  struct Impl;
  explicit Verifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What a server needs to choose collateral for a quote.
struct QuotePlatform {
  uint32_t tee_type = 0;
  std::string tee;     // "SGX" or "TDX"
  std::string fmspc;   // 12 upper-case hex digits
  std::string pce_id;  // 4 upper-case hex digits
  std::string pck_ca;  // "processor" or "platform" (the PCK CA that issued the PCK certificate)
};

struct Verifier::PlatformCheck {
  std::optional<QuotePlatform> platform;  // set when the chain is trusted and its leaf reads
  bool chain_present = true;              // false: no PCK chain in the quote and none given
  // Why `platform` is not set, with the codes Verify reports for the same checks
  // (pck_chain.untrusted, pck.extension_invalid, collateral.missing, quote.unsupported).
  std::vector<ReportError> errors;
};

// Parses the quote and the PCK certificate (from `pck_chain_pem` or the quote) and reads the FMSPC,
// PCE-ID, TEE type and PCK CA type. InvalidArgument for a malformed quote or a missing/odd PCK.
// Nothing is verified: use Verifier::Platform before acting on what a quote claims.
Result<QuotePlatform> InspectQuote(std::span<const uint8_t> quote,
                                   std::string_view pck_chain_pem = {});

}  // namespace kmra::dcap
