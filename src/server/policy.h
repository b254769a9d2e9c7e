// Per-key release policy and its evaluation. A policy is stored as JSON text (the state store keeps
// it verbatim) and parsed strictly: an unknown field or a malformed value is an error that names
// it, so a typo cannot silently widen a policy.
//
// JSON form:
//   {"mrenclave":["<64 hex>",...], "mrsigner":["<64 hex>",...], "isv_prod_id":0, "min_isv_svn":0,
//    "tcb_statuses":["UpToDate"], "advisory_ids":["INTEL-SA-00615"], "allow_debug":false,
//    "max_collateral_age_seconds":0, "clients":["compute-1"], "allow_any_enclave":false,
//    "kmra_certificate_chain":false}
// A policy must name the enclave: at least one MRENCLAVE or MRSIGNER, or "allow_any_enclave": true
// said explicitly (each such release is logged at warn). "{}" is refused: deny by default. The
// other fields are optional and their defaults are the strict ones. An empty clients list means
// "the server's allowed clients" ([clients] of the config, or apphsm.conf's clients).
// kmra_certificate_chain is a per-key setting of the KMRA API 0.2 answer: false (default) returns
// the leaf certificate, as KMRA does; true returns the whole stored chain.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "server/attestation.h"

namespace kmra::server {

struct Policy {
  std::vector<std::array<std::uint8_t, 32>> mrenclave;
  std::vector<std::array<std::uint8_t, 32>> mrsigner;
  std::optional<std::uint16_t> isv_prod_id;
  std::uint16_t min_isv_svn = 0;
  std::vector<std::string> tcb_statuses = {"UpToDate"};
  std::vector<std::string> advisory_ids;  // advisories a quote may carry; "*" accepts any
  bool allow_debug = false;
  std::int64_t max_collateral_age_seconds = 0;  // 0: no limit beyond the collateral's own validity
  std::vector<std::string> clients;
  bool allow_any_enclave = false;  // no MRENCLAVE/MRSIGNER named, on purpose
  bool kmra_certificate_chain = false;

  // True when the policy says which enclaves may have the key (or explicitly allows any).
  bool NamesEnclave() const { return !mrenclave.empty() || !mrsigner.empty() || allow_any_enclave; }

  // Canonical JSON text (all fields present).
  std::string ToJson() const;
};

// Parses policy JSON. InvalidArgument naming the field on any problem, and (unless
// `allow_unnamed_enclave`, used only to read policies stored by older versions) when the policy
// does not name the enclave.
Result<Policy> ParsePolicy(std::string_view json_text, bool allow_unnamed_enclave = false);

// How to write a policy that names the enclave, for error messages.
std::string PolicyHowTo();

// The policy refusal, with a stable code ("policy.mrenclave") and a message naming expected and
// actual.
struct PolicyRefusal {
  std::string code;
  std::string message;
};

// Checks the client identity against the policy (or `default_clients` when the policy names none).
std::optional<PolicyRefusal> CheckClient(const Policy& policy,
                                         const std::vector<std::string>& default_clients,
                                         const std::string& client_id);

// Checks a verified quote's facts against the policy at time `now_unix`. Returns the first refusal.
std::optional<PolicyRefusal> CheckAttestation(const Policy& policy, const AttestationResult& facts,
                                              std::int64_t now_unix);

}  // namespace kmra::server
