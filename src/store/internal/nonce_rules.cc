#include "store/internal/nonce_rules.h"

#include <fmt/format.h>

namespace kmra::store::internal {

Error NonceReplayed() {
  return Error(Code::kAlreadyExists,
               "nonce replay: a release already used this client nonce; every request needs a new "
               "one");
}

Status NonceVerdict(NonceKind kind, int64_t now, const std::optional<NonceRow>& row) {
  if (kind == NonceKind::kClientSeen) {
    if (row) return tl::unexpected(NonceReplayed());
    return OkStatus();
  }
  if (!row) {
    return NotFound(
        "unknown nonce: this server never issued it (or it expired and was purged); request a "
        "fresh one with POST /v1/nonce");
  }
  if (row->client_seen || row->used) {
    return FailedPrecondition(
        "nonce already used: each nonce serves one release; request a fresh one");
  }
  if (row->expires_at < now) {
    return FailedPrecondition(
        fmt::format("nonce expired {} s ago; request a fresh one", now - row->expires_at));
  }
  return OkStatus();
}

Status CheckAuditJson(const std::string& json) {
  if (json.empty() || json.front() != '{' || json.back() != '}') {
    return InvalidArgument("an audit record must be a JSON object");
  }
  return OkStatus();
}

}  // namespace kmra::store::internal
