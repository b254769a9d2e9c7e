// What the server learned from a quote: the verifier's verdict plus the facts the key policy and the
// audit need. Filled from dcap::VerificationReport by the quote checker (quote_checker.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace kmra::server {

// One failed verification check, with the verifier's stable code ("pck.revoked") and its explanation.
struct CheckFailure {
  std::string code;
  std::string message;
};

struct AttestationResult {
  bool verified = false;                 // every DCAP check passed (signatures, chains, CRLs, identity)
  std::vector<CheckFailure> failures;    // why not, when !verified
  std::string tcb_status;                // "UpToDate", "SWHardeningNeeded", ...
  std::vector<std::string> advisory_ids; // "INTEL-SA-00615", ...
  std::array<std::uint8_t, 32> mrenclave{};
  std::array<std::uint8_t, 32> mrsigner{};
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  bool debug = false;
  std::array<std::uint8_t, 64> report_data{};
  std::string fmspc;                     // hex
  std::int64_t collateral_issued_at = 0; // oldest issue date of the collateral used (unix seconds)
  bool simulated_root = false;           // the chain ends at the simulated (not Intel's) root
};

}  // namespace kmra::server
