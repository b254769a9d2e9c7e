// Audit records of release decisions and admin changes, written to the store's hash-chained log as
// JSON objects. Field names are stable (docs/server.md "Audit").
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "server/attestation.h"
#include "store/store.h"

namespace kmra::server {

// Every member has a default member initializer, so a designated initializer may name only the
// fields it knows (GCC's -Wmissing-field-initializers counts a member without one as forgotten).
struct AuditEntry {
  std::string action{};      // "release", "attest", "nonce", "key.create", "key.delete", ...
  std::string api{};         // "kmra", "v1", "admin"
  std::string client = "-";  // OU of the client certificate, "-" when none was verified
  std::string remote{};
  std::string key_id{};
  int key_version = 0;
  std::string verdict{};  // "allowed", "refused", "error", "ok"
  // Stable code of the refusal ("policy.mrenclave", "pck.revoked", ...).
  std::string failed_check{};
  std::string detail{};
  std::string tcb_status{};
  std::vector<std::string> advisory_ids{};
  std::string mrenclave{};  // hex
  std::string wrap_mechanisms{};

  // Copies the quote facts (TCB status, advisories, MRENCLAVE) into the entry.
  void SetAttestation(const AttestationResult& result);
};

// `text` cut to at most `max` bytes (with a note of the full length), so a request can never write
// an audit field or a log line of its own choosing in size.
std::string BoundedText(std::string_view text, std::size_t max);

// Which refusals of clients without a valid certificate get their own audit record: at most
// `per_minute` per source address per minute, and at most 60 x per_minute in all; the others are
// counted and summed up in one summary record per address (and one for all addresses over the
// total) once their minute is over. Thread safe.
class AnonymousRefusalLimiter {
 public:
  explicit AnonymousRefusalLimiter(std::size_t per_minute) : per_minute_(per_minute) {}
  // Not thread safe: call before use.
  void set_per_minute(std::size_t per_minute) { per_minute_ = per_minute; }

  struct Summary {
    std::string address;  // "*" for refusals over the total cap
    std::int64_t window_start = 0;
    std::uint64_t suppressed = 0;
  };
  // True when this refusal gets its own record. `due` receives summaries of minutes that are over.
  bool Admit(const std::string& address, std::int64_t now, std::vector<Summary>* due);

 private:
  struct Window {
    std::int64_t start = 0;
    std::uint64_t recorded = 0;
    std::uint64_t suppressed = 0;
  };
  void Flush(std::int64_t now, std::vector<Summary>* due);

  std::size_t per_minute_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;
  Window total_;
  std::int64_t last_flush_ = 0;
};

class AuditWriter {
 public:
  AuditWriter(store::Store& store, const Clock& clock, bool simulated_root)
      : store_(store), clock_(clock), simulated_root_(simulated_root) {}

  // Appends the entry (with time and the simulated_root flag). Logs and returns the store's error.
  // With `claim`, the nonce is claimed in the same transaction (Store::AppendAuditClaimingNonce):
  // a release spends its nonce exactly when its record is written.
  Status Write(const AuditEntry& entry, const store::NonceClaim* claim = nullptr);

  // For a refusal of a client without a valid certificate: writes the entry when the limiter admits
  // it (see AnonymousRefusalLimiter), and the summaries that are due. `address` is the source IP.
  Status WriteAnonymousRefusal(const AuditEntry& entry, const std::string& address);
  // Records per source address per minute for WriteAnonymousRefusal ([listen]
  // anonymous_audit_per_minute). Call before serving.
  void SetAnonymousPerMinute(std::size_t per_minute) { anonymous_.set_per_minute(per_minute); }
  // The replica named in every record ("replica"), so records of replicas sharing one chain say
  // which wrote them. Call before serving.
  void SetReplica(std::string replica) { replica_ = std::move(replica); }

 private:
  store::Store& store_;
  const Clock& clock_;
  bool simulated_root_;
  std::string replica_;
  AnonymousRefusalLimiter anonymous_{10};
};

}  // namespace kmra::server
