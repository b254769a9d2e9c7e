// Audit records of release decisions and admin changes, written to the store's hash-chained log as
// JSON objects. Field names are stable (docs/server.md "Audit").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "server/attestation.h"
#include "store/store.h"

namespace kmra::server {

struct AuditEntry {
  std::string action;        // "release", "attest", "nonce", "key.create", "key.delete", ...
  std::string api;           // "kmra", "v1", "admin"
  std::string client = "-";  // OU of the client certificate, "-" when none was verified
  std::string remote;
  std::string key_id;
  int key_version = 0;
  std::string verdict;       // "allowed", "refused", "error", "ok"
  std::string failed_check;  // stable code of the refusal ("policy.mrenclave", "pck.revoked", ...)
  std::string detail;
  std::string tcb_status;
  std::vector<std::string> advisory_ids;
  std::string mrenclave;     // hex
  std::string wrap_mechanisms;

  // Copies the quote facts (TCB status, advisories, MRENCLAVE) into the entry.
  void SetAttestation(const AttestationResult& result);
};

class AuditWriter {
 public:
  AuditWriter(store::Store& store, const Clock& clock, bool simulated_root)
      : store_(store), clock_(clock), simulated_root_(simulated_root) {}

  // Appends the entry (with time and the simulated_root flag). Logs and returns the store's error.
  // With `claim`, the nonce is claimed in the same transaction (Store::AppendAuditClaimingNonce):
  // a release spends its nonce exactly when its record is written.
  Status Write(const AuditEntry& entry, const store::NonceClaim* claim = nullptr);

 private:
  store::Store& store_;
  const Clock& clock_;
  bool simulated_root_;
};

}  // namespace kmra::server
