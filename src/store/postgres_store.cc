// PostgreSQL Store over libpq (C API; parameters bound with PQexecParams, never spliced into SQL).
// The schema mirrors the SQLite one with a kmra_ prefix (docs/store.md).
#include "store/postgres_store.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <mutex>
#include <optional>
#include <vector>

#include "store/internal/audit_chain.h"
#include "store/internal/nonce_rules.h"

namespace kmra::store {
namespace {

constexpr int kSchemaVersion = 1;
// pg_advisory_lock key for schema creation ("kmra" in ASCII).
constexpr const char* kSchemaLock = "SELECT pg_advisory_lock(1802334817)";
constexpr const char* kSchemaUnlock = "SELECT pg_advisory_unlock(1802334817)";

const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kmra_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
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
INSERT INTO kmra_meta(name, value) VALUES ('schema_version', '1') ON CONFLICT DO NOTHING;
)sql";

// A query parameter: text, or binary bytes (for BYTEA).
struct Param {
  std::string value;
  bool binary = false;
  bool null = false;
};
Param P(std::string_view s) { return Param{std::string(s), false, false}; }
Param P(int64_t v) { return Param{std::to_string(v), false, false}; }
Param Bytes(std::span<const uint8_t> b) {
  return Param{std::string(b.begin(), b.end()), true, false};
}
Param Null() { return Param{"", false, true}; }

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultFree>;

std::vector<uint8_t> HexToBytes(const std::string& hex) {
  // encode(x, 'hex') output: lower-case hex, even length.
  std::vector<uint8_t> out(hex.size() / 2);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~PostgresStore() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }

  Status Connect() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return OkStatus();
    if (conn_ != nullptr) {
      PQreset(conn_);
      if (PQstatus(conn_) == CONNECTION_OK) return OkStatus();
      PQfinish(conn_);
      conn_ = nullptr;
    }
    conn_ = PQconnectdb(conninfo_.c_str());
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      std::string why = conn_ ? PQerrorMessage(conn_) : "out of memory";
      while (!why.empty() && why.back() == '\n') why.pop_back();
      if (conn_ != nullptr) PQfinish(conn_);
      conn_ = nullptr;
      // The connection string may hold a password: name the target without it.
      return Unavailable(fmt::format("cannot connect to the PostgreSQL state store: {}", why));
    }
    return OkStatus();
  }

  // Runs one statement. Unavailable for connection problems, AlreadyExists for unique violations,
  // NotFound for foreign key violations, Internal otherwise.
  Result<PgResult> Exec(const char* sql, const std::vector<Param>& params = {}) {
    KMRA_TRY(Connect());
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (const auto& p : params) {
      values.push_back(p.null ? nullptr : p.value.data());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(p.binary ? 1 : 0);
    }
    PgResult res(PQexecParams(conn_, sql, static_cast<int>(params.size()), nullptr, values.data(),
                              lengths.data(), formats.data(), 0));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
    std::string msg = res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
    std::string code = state ? state : "";
    if (PQstatus(conn_) != CONNECTION_OK || code.rfind("08", 0) == 0 || code == "57P01") {
      return Unavailable(fmt::format("PostgreSQL state store: {}", msg));
    }
    if (code == "23505") return AlreadyExists(msg);
    if (code == "23503") return NotFound(msg);
    if (code == "40001" || code == "40P01" || code == "55P03") return Unavailable(msg);
    return Internal(fmt::format("PostgreSQL state store: {} (SQLSTATE {})", msg, code));
  }

  // Runs `body` inside BEGIN/COMMIT, rolling back on failure.
  template <class F>
  auto Tx(F&& body) -> decltype(body()) {
    KMRA_TRY(Exec("BEGIN"));
    auto result = body();
    if (!result) {
      (void)Exec("ROLLBACK");
      return result;
    }
    auto commit = Exec("COMMIT");
    if (!commit) return tl::unexpected(commit.error());
    return result;
  }

  static std::string Text(const PgResult& r, int row, int col) {
    return std::string(PQgetvalue(r.get(), row, col),
                       static_cast<size_t>(PQgetlength(r.get(), row, col)));
  }
  static int64_t Int(const PgResult& r, int row, int col) {
    return internal::ParseInt(Text(r, row, col));
  }
  static int64_t Affected(const PgResult& r) {
    const char* n = PQcmdTuples(r.get());
    return n && *n ? internal::ParseInt(n) : 0;
  }

  Status Init() {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_TRY(Exec(kSchemaLock));
    // Simple-query protocol: several statements in one call.
    PGresult* raw = PQexec(conn_, kSchema);
    PgResult res(raw);
    std::string error;
    if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
      error = res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_);
    }
    (void)Exec(kSchemaUnlock);
    if (!error.empty()) return Internal(fmt::format("cannot create the kmra tables: {}", error));
    KMRA_ASSIGN_OR_RETURN(auto v,
                          Exec("SELECT value FROM kmra_meta WHERE name = 'schema_version'"));
    if (PQntuples(v.get()) != 1 || Text(v, 0, 0) != std::to_string(kSchemaVersion)) {
      return FailedPrecondition(
          fmt::format("the PostgreSQL state store has schema version {}; this kmra "
                      "understands version {}",
                      PQntuples(v.get()) ? Text(v, 0, 0) : "?", kSchemaVersion));
    }
    return OkStatus();
  }

  Status CreateKey(const NewKey& key) override {
    KMRA_TRY(ValidateKeyId(key.id));
    std::lock_guard<std::mutex> lock(mu_);
    auto r = Exec("INSERT INTO kmra_keys(id, description, created_at) VALUES ($1, $2, $3)",
                  {P(key.id), P(key.description), P(key.created_at)});
    if (!r && r.error().code() == Code::kAlreadyExists) {
      return AlreadyExists(fmt::format("a key with id '{}' already exists", key.id));
    }
    KMRA_TRY(r);
    return OkStatus();
  }

  Result<int> AddKeyVersion(const std::string& key_id, const KeyVersion& v) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Tx([&]() -> Result<int> {
      // Lock the key row so two replicas adding versions at once get 1 and 2, not a conflict.
      KMRA_ASSIGN_OR_RETURN(auto k,
                            Exec("SELECT 1 FROM kmra_keys WHERE id = $1 FOR UPDATE", {P(key_id)}));
      if (PQntuples(k.get()) == 0)
        return NotFound(fmt::format("no key '{}' in the registry", key_id));
      KMRA_ASSIGN_OR_RETURN(auto m, Exec("SELECT COALESCE(MAX(version), 0) FROM kmra_key_versions "
                                         "WHERE key_id = $1",
                                         {P(key_id)}));
      int next = static_cast<int>(Int(m, 0, 0)) + 1;
      KMRA_TRY(Exec(
          "INSERT INTO kmra_key_versions(key_id, version, hsm_label, hsm_id, key_type, origin, "
          "cert_chain_pem, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
          {P(key_id), P(static_cast<int64_t>(next)), P(v.hsm_label), Bytes(v.hsm_id), P(v.key_type),
           P(v.origin), P(v.cert_chain_pem), P(v.created_at)}));
      return next;
    });
  }

  Status SetCertificateChain(const std::string& key_id, int version,
                             const std::string& pem) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(auto r,
                          Exec("UPDATE kmra_key_versions SET cert_chain_pem = $3 WHERE key_id = $1 "
                               "AND version = $2",
                               {P(key_id), P(static_cast<int64_t>(version)), P(pem)}));
    if (Affected(r) == 0)
      return NotFound(fmt::format("key '{}' has no version {}", key_id, version));
    return OkStatus();
  }

  Result<KeyRecord> LoadKey(const std::string& key_id) {
    KMRA_ASSIGN_OR_RETURN(
        auto k,
        Exec("SELECT id, description, created_at FROM kmra_keys WHERE id = $1", {P(key_id)}));
    if (PQntuples(k.get()) == 0)
      return NotFound(fmt::format("no key '{}' in the registry", key_id));
    KeyRecord rec{Text(k, 0, 0), Text(k, 0, 1), Int(k, 0, 2), {}};
    KMRA_ASSIGN_OR_RETURN(
        auto v, Exec("SELECT version, hsm_label, encode(hsm_id, 'hex'), key_type, origin, "
                     "cert_chain_pem, created_at FROM kmra_key_versions WHERE key_id = $1 "
                     "ORDER BY version",
                     {P(key_id)}));
    for (int i = 0; i < PQntuples(v.get()); ++i) {
      rec.versions.push_back(KeyVersion{static_cast<int>(Int(v, i, 0)), Text(v, i, 1),
                                        HexToBytes(Text(v, i, 2)), Text(v, i, 3), Text(v, i, 4),
                                        Text(v, i, 5), Int(v, i, 6)});
    }
    return rec;
  }

  Result<KeyRecord> GetKey(const std::string& key_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Tx([&] { return LoadKey(key_id); });
  }

  Result<std::vector<KeyRecord>> ListKeys() override {
    std::lock_guard<std::mutex> lock(mu_);
    return Tx([&]() -> Result<std::vector<KeyRecord>> {
      KMRA_ASSIGN_OR_RETURN(auto ids, Exec("SELECT id FROM kmra_keys ORDER BY id"));
      std::vector<KeyRecord> out;
      for (int i = 0; i < PQntuples(ids.get()); ++i) {
        KMRA_ASSIGN_OR_RETURN(auto rec, LoadKey(Text(ids, i, 0)));
        out.push_back(std::move(rec));
      }
      return out;
    });
  }

  Status DeleteKey(const std::string& key_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(auto r, Exec("DELETE FROM kmra_keys WHERE id = $1", {P(key_id)}));
    if (Affected(r) == 0) return NotFound(fmt::format("no key '{}' in the registry", key_id));
    return OkStatus();
  }

  Status PutPolicy(const PolicyRecord& policy) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = Exec(
        "INSERT INTO kmra_policies(key_id, json, updated_at) VALUES ($1, $2, $3) ON CONFLICT "
        "(key_id) "
        "DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
        {P(policy.key_id), P(policy.json), P(policy.updated_at)});
    if (!r && r.error().code() == Code::kNotFound) {
      return NotFound(
          fmt::format("no key '{}' in the registry to attach a policy to", policy.key_id));
    }
    KMRA_TRY(r);
    return OkStatus();
  }

  Result<PolicyRecord> GetPolicy(const std::string& key_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(
        auto r, Exec("SELECT json, updated_at FROM kmra_policies WHERE key_id = $1", {P(key_id)}));
    if (PQntuples(r.get()) == 0) return NotFound(fmt::format("key '{}' has no policy", key_id));
    return PolicyRecord{key_id, Text(r, 0, 0), Int(r, 0, 1)};
  }

  Status PutNonce(std::span<const uint8_t> nonce, NonceKind kind, int64_t expires_at) override {
    if (nonce.empty() || nonce.size() > 256)
      return InvalidArgument("a nonce must be 1 to 256 bytes");
    std::lock_guard<std::mutex> lock(mu_);
    bool client = kind == NonceKind::kClientSeen;
    auto r = Exec(
        "INSERT INTO kmra_nonces(nonce, kind, expires_at, consumed_at) VALUES ($1, $2, $3, $4)",
        {Bytes(nonce), P(static_cast<int64_t>(client ? 1 : 0)), P(expires_at),
         client ? P(expires_at) : Null()});
    if (!r && r.error().code() == Code::kAlreadyExists) {
      return AlreadyExists(
          client ? "nonce replay: this client nonce was already used in an earlier request"
                 : "nonce collision: the generated nonce already exists");
    }
    KMRA_TRY(r);
    return OkStatus();
  }

  Status ConsumeNonce(std::span<const uint8_t> nonce, int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    return ClaimNonceLocked({nonce, NonceKind::kServerIssued, now, 0});
  }

  Status CheckNonce(std::span<const uint8_t> nonce, NonceKind kind, int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    return CheckNonceLocked(nonce, kind, now);
  }

  Result<int64_t> CountNonces() override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(auto r, Exec("SELECT COUNT(*) FROM kmra_nonces"));
    return Int(r, 0, 0);
  }

  Result<int64_t> PurgeExpiredNonces(int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(auto r, Exec("DELETE FROM kmra_nonces WHERE expires_at < $1", {P(now)}));
    return Affected(r);
  }

  Result<AuditRecord> AppendAudit(const std::string& json, int64_t time) override {
    KMRA_TRY(internal::CheckAuditJson(json));
    std::lock_guard<std::mutex> lock(mu_);
    return Tx([&] { return AppendAuditLocked(json, time); });
  }

  Result<AuditRecord> AppendAuditClaimingNonce(const std::string& json, int64_t time,
                                               const NonceClaim& claim) override {
    KMRA_TRY(internal::CheckAuditJson(json));
    std::lock_guard<std::mutex> lock(mu_);
    return Tx([&]() -> Result<AuditRecord> {
      KMRA_TRY(ClaimNonceLocked(claim));
      return AppendAuditLocked(json, time);
    });
  }

  Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& q) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(
        auto r, Exec("SELECT seq, time, json, prev_hash, hash FROM kmra_audit WHERE seq > $1 "
                     "AND time >= $2 ORDER BY seq LIMIT $3",
                     {P(q.after_seq), P(q.since_time), P(static_cast<int64_t>(q.limit))}));
    std::vector<AuditRecord> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back(
          AuditRecord{Int(r, i, 0), Int(r, i, 1), Text(r, i, 2), Text(r, i, 3), Text(r, i, 4)});
    }
    return out;
  }

  Result<ChainVerdict> VerifyAuditChain() override {
    // Its own connection and snapshot: a verify of a long log does not hold this store's
    // connection (and mutex), so releases go on beside it.
    PostgresStore reader(conninfo_);
    KMRA_TRY(reader.Connect());
    return reader.VerifySnapshot();
  }

 private:
  Result<ChainVerdict> VerifySnapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_TRY(Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    auto verdict = [&]() -> Result<ChainVerdict> {
      KMRA_ASSIGN_OR_RETURN(
          auto h, Exec("SELECT name, value FROM kmra_meta WHERE name IN ('audit_head_seq', "
                       "'audit_head_hash') ORDER BY name"));
      if (PQntuples(h.get()) != 2)
        return DataLoss("the audit chain head is missing from kmra_meta");
      KMRA_ASSIGN_OR_RETURN(
          auto r, Exec("SELECT seq, time, json, prev_hash, hash FROM kmra_audit ORDER BY seq"));
      internal::ChainChecker checker;
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        if (!checker.Add(AuditRecord{Int(r, i, 0), Int(r, i, 1), Text(r, i, 2), Text(r, i, 3),
                                     Text(r, i, 4)})) {
          break;
        }
      }
      KMRA_ASSIGN_OR_RETURN(int64_t last_seq, internal::ParseHeadSeq(Text(h, 1, 1)));
      return checker.Finish(last_seq, Text(h, 0, 1));
    }();
    (void)Exec("COMMIT");
    return verdict;
  }

 public:
  Status PutCollateral(const CollateralEntry& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_TRY(Exec(
        "INSERT INTO kmra_collateral(key, value, fetched_at, next_update) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, fetched_at = excluded.fetched_at, "
        "next_update = excluded.next_update",
        {P(e.key), Bytes(e.value), P(e.fetched_at), P(e.next_update)}));
    return OkStatus();
  }

  Result<CollateralEntry> GetCollateral(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(
        auto r, Exec("SELECT encode(value, 'hex'), fetched_at, next_update FROM kmra_collateral "
                     "WHERE key = $1",
                     {P(key)}));
    if (PQntuples(r.get()) == 0) return NotFound(fmt::format("no cached collateral '{}'", key));
    return CollateralEntry{key, HexToBytes(Text(r, 0, 0)), Int(r, 0, 1), Int(r, 0, 2)};
  }

  Status Ping() override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_TRY(Exec("UPDATE kmra_meta SET value = value WHERE name = 'schema_version'"));
    return OkStatus();
  }

 private:
  // The audit append, inside the caller's transaction (mu_ held).
  Result<AuditRecord> AppendAuditLocked(const std::string& json, int64_t time) {
    // The row lock on the head serialises appends from every replica.
    KMRA_ASSIGN_OR_RETURN(auto h,
                          Exec("SELECT name, value FROM kmra_meta WHERE name IN ('audit_head_seq', "
                               "'audit_head_hash') ORDER BY name FOR UPDATE"));
    if (PQntuples(h.get()) != 2) return DataLoss("the audit chain head is missing from kmra_meta");
    AuditRecord rec;
    rec.prev_hash = Text(h, 0, 1);  // audit_head_hash sorts first
    KMRA_ASSIGN_OR_RETURN(int64_t last_seq, internal::ParseHeadSeq(Text(h, 1, 1)));
    rec.seq = last_seq + 1;
    rec.time = time;
    rec.json = json;
    rec.hash = AuditHash(rec.prev_hash, rec.seq, rec.time, rec.json);
    KMRA_TRY(
        Exec("INSERT INTO kmra_audit(seq, time, json, prev_hash, hash) VALUES ($1, $2, $3, $4, $5)",
             {P(rec.seq), P(rec.time), P(rec.json), P(rec.prev_hash), P(rec.hash)}));
    KMRA_TRY(Exec("UPDATE kmra_meta SET value = $1 WHERE name = 'audit_head_seq'", {P(rec.seq)}));
    KMRA_TRY(Exec("UPDATE kmra_meta SET value = $1 WHERE name = 'audit_head_hash'", {P(rec.hash)}));
    return rec;
  }

  Status CheckNonceLocked(std::span<const uint8_t> nonce, NonceKind kind, int64_t now) {
    KMRA_ASSIGN_OR_RETURN(auto s,
                          Exec("SELECT kind, expires_at, consumed_at IS NOT NULL FROM kmra_nonces "
                               "WHERE nonce = $1",
                               {Bytes(nonce)}));
    std::optional<internal::NonceRow> row;
    if (PQntuples(s.get()) > 0)
      row = internal::NonceRow{Int(s, 0, 0) != 0, Int(s, 0, 1), Text(s, 0, 2) == "t"};
    return internal::NonceVerdict(kind, now, row);
  }

  // Marks the nonce used (server) or records it (client), inside the caller's transaction. The
  // UPDATE takes the row lock, so two replicas cannot both claim one server nonce.
  Status ClaimNonceLocked(const NonceClaim& c) {
    if (c.kind == NonceKind::kServerIssued) {
      KMRA_ASSIGN_OR_RETURN(
          auto u, Exec("UPDATE kmra_nonces SET consumed_at = $2 WHERE nonce = $1 AND kind = 0 "
                       "AND consumed_at IS NULL AND expires_at >= $2",
                       {Bytes(c.nonce), P(c.now)}));
      if (Affected(u) == 1) return OkStatus();
      KMRA_TRY(CheckNonceLocked(c.nonce, c.kind, c.now));
      return FailedPrecondition("the nonce could not be claimed");
    }
    if (c.nonce.empty() || c.nonce.size() > 256)
      return InvalidArgument("a nonce must be 1 to 256 bytes");
    auto r =
        Exec("INSERT INTO kmra_nonces(nonce, kind, expires_at, consumed_at) VALUES ($1, 1, $2, $3)",
             {Bytes(c.nonce), P(c.expires_at), P(c.now)});
    if (!r && r.error().code() == Code::kAlreadyExists)
      return tl::unexpected(internal::NonceReplayed());
    KMRA_TRY(r);
    return OkStatus();
  }

  std::mutex mu_;
  std::string conninfo_;
  PGconn* conn_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo) {
  auto store = std::make_unique<PostgresStore>(conninfo);
  KMRA_TRY(store->Connect());
  KMRA_TRY(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace kmra::store
