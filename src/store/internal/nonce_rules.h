// The rules both stores apply to nonces and audit records, so SQLite and PostgreSQL answer alike.
#pragma once

#include <optional>
#include <string>

#include "store/store.h"

namespace kmra::store::internal {

// A stored nonce row, as CheckNonce sees it.
struct NonceRow {
  bool client_seen = false;  // kind 1 (a KMRA client nonce a release used)
  int64_t expires_at = 0;
  bool used = false;  // consumed_at is set
};

// The CheckNonce verdict for `row` (nullopt: no such nonce) at `now` (see Store::CheckNonce).
Status NonceVerdict(NonceKind kind, int64_t now, const std::optional<NonceRow>& row);

// The AlreadyExists error of a KMRA client nonce that a release already used.
Error NonceReplayed();

// InvalidArgument unless `json` looks like a JSON object.
Status CheckAuditJson(const std::string& json);

}  // namespace kmra::store::internal
