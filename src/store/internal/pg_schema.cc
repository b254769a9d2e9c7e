#include "store/internal/pg_schema.h"

#include <fmt/format.h>

#include <string>

namespace kmra::store::internal {
namespace {

// pg_advisory_xact_lock key for schema changes ("kmra" in ASCII); released at COMMIT or ROLLBACK,
// also when the connection dies.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(1802334817)";

// kMigrations[v - 1] brings a database from version v - 1 to v (version 0: no tables). Each runs in
// the transaction that records the new version; add a step for every schema change, never edit one.
const char* const kMigrations[] = {
    // 1: the tables of the first release.
    R"sql(
CREATE TABLE IF NOT EXISTS kmra_keys (
  id TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS kmra_key_versions (
  key_id TEXT NOT NULL REFERENCES kmra_keys(id) ON DELETE CASCADE, version INTEGER NOT NULL,
  hsm_label TEXT NOT NULL, hsm_id BYTEA NOT NULL, key_type TEXT NOT NULL, origin TEXT NOT NULL,
  cert_chain_pem TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, PRIMARY KEY (key_id, version));
CREATE TABLE IF NOT EXISTS kmra_policies (
  key_id TEXT PRIMARY KEY REFERENCES kmra_keys(id) ON DELETE CASCADE, json TEXT NOT NULL,
  updated_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS kmra_nonces (
  nonce BYTEA PRIMARY KEY, kind INTEGER NOT NULL, expires_at BIGINT NOT NULL, consumed_at BIGINT);
CREATE INDEX IF NOT EXISTS kmra_nonces_expiry ON kmra_nonces(expires_at);
CREATE TABLE IF NOT EXISTS kmra_audit (
  seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, json TEXT NOT NULL, prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kmra_collateral (
  key TEXT PRIMARY KEY, value BYTEA NOT NULL, fetched_at BIGINT NOT NULL, next_update BIGINT NOT NULL);
INSERT INTO kmra_meta(name, value) VALUES ('audit_head_seq', '0') ON CONFLICT DO NOTHING;
INSERT INTO kmra_meta(name, value) VALUES
  ('audit_head_hash', '0000000000000000000000000000000000000000000000000000000000000000')
  ON CONFLICT DO NOTHING;
)sql",
    // 2: leases (one replica refreshes a platform's collateral at a time).
    R"sql(
CREATE TABLE IF NOT EXISTS kmra_leases (
  name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);
)sql",
};
static_assert(std::size(kMigrations) == kPostgresSchemaVersion);

Status Migrate(PgConn& conn) {
  KMRA_TRY(conn.Exec(kSchemaLock));
  KMRA_TRY(conn.Exec(
      "CREATE TABLE IF NOT EXISTS kmra_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  KMRA_ASSIGN_OR_RETURN(auto v, conn.Exec("SELECT value FROM kmra_meta WHERE name = "
                                          "'schema_version'"));
  int version = 0;
  if (PQntuples(v.get()) == 1) {
    const std::string text = PgText(v, 0, 0);
    version = static_cast<int>(PgInt(v, 0, 0));
    if (text != std::to_string(version) || version < 1) {
      return DataLoss("kmra_meta.schema_version is \"" + text + "\", not a schema version");
    }
  }
  if (version > kPostgresSchemaVersion) {
    return FailedPrecondition(
        fmt::format("the PostgreSQL state store has schema version {}; this kmra understands "
                    "version {} (upgrade kmra on every replica)",
                    version, kPostgresSchemaVersion));
  }
  for (int next = version + 1; next <= kPostgresSchemaVersion; ++next) {
    if (auto applied = conn.ExecScript(kMigrations[next - 1]); !applied) {
      return tl::unexpected(applied.error().WithContext(
          fmt::format("upgrading the kmra tables to schema version {}", next)));
    }
  }
  if (version < kPostgresSchemaVersion) {
    KMRA_TRY(
        conn.Exec("INSERT INTO kmra_meta(name, value) VALUES ('schema_version', $1) "
                  "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                  {P(static_cast<int64_t>(kPostgresSchemaVersion))}));
  }
  return OkStatus();
}

}  // namespace

Status InitPostgresSchema(PgConn& conn) {
  return conn.Tx([&] { return Migrate(conn); });
}

}  // namespace kmra::store::internal
