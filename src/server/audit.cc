#include "server/audit.h"

#include <spdlog/spdlog.h>

#include "base/hex.h"
#include "server/json.h"

namespace kmra::server {

void AuditEntry::SetAttestation(const AttestationResult& result) {
  tcb_status = result.tcb_status;
  advisory_ids = result.advisory_ids;
  mrenclave = HexEncode(result.mrenclave);
}

Status AuditWriter::Write(const AuditEntry& e, const store::NonceClaim* claim) {
  std::int64_t now = clock_.NowUnix();
  Json j;
  j["time"] = now;
  j["action"] = e.action;
  j["api"] = e.api;
  j["client"] = e.client;
  j["remote"] = e.remote;
  j["key_id"] = e.key_id;
  j["key_version"] = e.key_version;
  j["verdict"] = e.verdict;
  j["failed_check"] = e.failed_check;
  j["detail"] = e.detail;
  j["tcb_status"] = e.tcb_status;
  j["advisory_ids"] = e.advisory_ids;
  j["mrenclave"] = e.mrenclave;
  if (!e.wrap_mechanisms.empty()) j["wrap_mechanisms"] = e.wrap_mechanisms;
  // Every record says when the simulated root was trusted, so no released key can be mistaken later
  // for one released to real SGX hardware.
  j["simulated_root"] = simulated_root_;
  auto appended = claim ? store_.AppendAuditClaimingNonce(DumpJson(j), now, *claim)
                        : store_.AppendAudit(DumpJson(j), now);
  if (!appended) {
    spdlog::error("audit record could not be written ({} {} {}): {}", e.action, e.key_id,
                  e.verdict, appended.error().ToString());
    return tl::unexpected(appended.error());
  }
  spdlog::info("audit #{}: {} {} key={} v{} client={} verdict={}{}{}", appended->seq, e.api,
               e.action, e.key_id, e.key_version, e.client, e.verdict,
               e.failed_check.empty() ? "" : " check=", e.failed_check);
  return OkStatus();
}

}  // namespace kmra::server
