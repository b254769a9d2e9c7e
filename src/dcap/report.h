// The outcome of verifying a quote: not a boolean but everything a person or a policy needs, with
// every check and, on failure, a stable error code (docs/attestation.md lists them).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kmra::dcap {

struct CheckOutcome {
  std::string_view name;  // e.g. "pck_chain.signatures"; names are string literals
  bool ok = false;
  std::string detail;  // what was checked; on failure expected vs actual
};

struct ReportError {
  std::string code;     // stable, e.g. "pck.revoked"
  std::string message;  // for a person
};

// The TD's measurements (TDX quotes only).
struct TdIdentity {
  std::string mr_td, mr_seam, mrsigner_seam, td_attributes, xfam, mr_config_id, mr_owner,
      mr_owner_config;
  std::array<std::string, 4> rtmr;
  std::string tee_tcb_svn;
};

struct VerificationReport {
  // Every check passed, a TCB level met among them (TCBLevelNotSupported is not verified, as in
  // QVL). The TCB status is judged separately (by policy or `kmra quote verify --accept`).
  // tcb_status and qe_identity_status are "" (JSON null) when not evaluated.
  bool verified = false;
  std::string tcb_status;  // Intel's string, "TCBLevelNotSupported", or "" if not evaluated
  std::vector<std::string> advisory_ids;  // of the chosen TCB level, the QE level and module level
  std::string qe_identity_status;         // status of the QE identity level, "" if not evaluated
  std::string tdx_module_status;          // TDX with module identities only

  // Enclave identity (SGX: the ISV enclave; TDX: zero/empty, see `td`).
  std::string tee;                                           // "SGX" or "TDX"
  std::string mrenclave, mrsigner, attributes, report_data;  // lower-case hex
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  bool debug = false;  // SGX ATTRIBUTES.DEBUG or TDX TD_ATTRIBUTES.TUD.DEBUG
  std::optional<TdIdentity> td;

  // Platform, from the PCK certificate.
  std::string fmspc;  // upper-case hex, like Intel's collateral
  std::string pce_id;
  std::string pck_ca;  // "processor" or "platform"

  int64_t verified_at = 0;
  // Window in which all the collateral (TCB info, QE identity, CRLs) is valid at once, and what
  // expires first. 0 when unknown.
  int64_t collateral_not_before = 0;
  int64_t collateral_not_after = 0;
  std::string collateral_expires_first;
  uint64_t quote_trailing_bytes = 0;

  std::vector<CheckOutcome> checks;
  std::vector<ReportError> errors;

  // True when `code` is among the errors.
  bool HasError(std::string_view code) const;
  // The named check, or null.
  const CheckOutcome* FindCheck(std::string_view name) const;

  nlohmann::ordered_json ToJsonValue() const;
  // Pretty JSON with the keys of docs/attestation.md.
  std::string ToJson() const;
  // A short human summary followed by every check.
  std::string ToText() const;
};

}  // namespace kmra::dcap
