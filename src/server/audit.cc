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
  if (!replica_.empty()) j["replica"] = replica_;
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

namespace kmra::server {
namespace {

constexpr std::int64_t kMinute = 60;
// Source addresses tracked at once; refusals from further ones count against the total only.
constexpr std::size_t kMaxTrackedAddresses = 4096;

}  // namespace

std::string BoundedText(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max)) + "...(" + std::to_string(text.size()) + " bytes)";
}

void AnonymousRefusalLimiter::Flush(std::int64_t now, std::vector<Summary>* due) {
  if (now - last_flush_ < 1) return;  // at most one sweep a second
  last_flush_ = now;
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start < kMinute) {
      ++it;
      continue;
    }
    if (it->second.suppressed > 0)
      due->push_back({it->first, it->second.start, it->second.suppressed});
    it = windows_.erase(it);
  }
  if (now - total_.start >= kMinute) {
    if (total_.suppressed > 0) due->push_back({"*", total_.start, total_.suppressed});
    total_ = Window{now, 0, 0};
  }
}

bool AnonymousRefusalLimiter::Admit(const std::string& address, std::int64_t now,
                                    std::vector<Summary>* due) {
  std::lock_guard<std::mutex> lock(mu_);
  Flush(now, due);
  auto it = windows_.find(address);
  if (it == windows_.end()) {
    if (windows_.size() >= kMaxTrackedAddresses) {
      ++total_.suppressed;
      return false;
    }
    it = windows_.emplace(address, Window{now, 0, 0}).first;
  }
  Window& w = it->second;
  if (w.recorded >= per_minute_ || total_.recorded >= per_minute_ * kMinute) {
    ++(w.recorded >= per_minute_ ? w.suppressed : total_.suppressed);
    return false;
  }
  ++w.recorded;
  ++total_.recorded;
  return true;
}

Status AuditWriter::WriteAnonymousRefusal(const AuditEntry& entry, const std::string& address) {
  std::vector<AnonymousRefusalLimiter::Summary> due;
  const bool record = anonymous_.Admit(address, clock_.NowUnix(), &due);
  Status status = OkStatus();
  for (const auto& s : due) {
    AuditEntry summary;
    summary.action = "authenticate.summary";
    summary.api = entry.api;
    summary.remote = s.address;
    summary.verdict = "refused";
    summary.failed_check = "client_certificate.rate_limited";
    summary.detail = std::to_string(s.suppressed) +
                     " further refusals of clients without a valid certificate from " +
                     (s.address == "*" ? std::string("addresses over the total cap") : s.address) +
                     " in the minute from " + std::to_string(s.window_start) +
                     " were not recorded one by one";
    spdlog::warn("{}", summary.detail);
    if (auto written = Write(summary); !written) status = written;
  }
  if (record) {
    if (auto written = Write(entry); !written) status = written;
  }
  return status;
}

}  // namespace kmra::server
