// The SQLite implementation of Store. Schema and audit chain: docs/store.md.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "store/internal/audit_chain.h"
#include "store/internal/nonce_rules.h"
#include "store/internal/sqlite.h"
#include "store/store.h"

namespace kmra::store {
namespace {

using internal::Db;
using internal::InTransaction;
using internal::Stmt;

constexpr int kSchemaVersion = 1;

const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS key_versions (
  key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  hsm_label TEXT NOT NULL,
  hsm_id BLOB NOT NULL,
  key_type TEXT NOT NULL,
  origin TEXT NOT NULL,
  cert_chain_pem TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (key_id, version));
CREATE TABLE IF NOT EXISTS policies (
  key_id TEXT PRIMARY KEY REFERENCES keys(id) ON DELETE CASCADE,
  json TEXT NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (
  nonce BLOB PRIMARY KEY,
  kind INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  consumed_at INTEGER);
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires_at);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collateral (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  fetched_at INTEGER NOT NULL,
  next_update INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(name, value) VALUES ('audit_head_seq', '0');
INSERT OR IGNORE INTO meta(name, value) VALUES ('audit_head_hash',
  '0000000000000000000000000000000000000000000000000000000000000000');
)sql";

// Creates the file 0600 (and a missing parent directory 0700) before SQLite opens it, so state
// never exists with looser permissions; SQLite gives its -wal/-shm files the database file's mode.
Status PrepareFile(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (p.has_parent_path() && !std::filesystem::exists(p.parent_path(), ec)) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec)
      return Unavailable(
          fmt::format("cannot create directory {}: {}", p.parent_path().string(), ec.message()));
    ::chmod(p.parent_path().c_str(), 0700);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  return OkStatus();
}

Result<KeyRecord> LoadKey(Db& db, const std::string& key_id) {
  KMRA_ASSIGN_OR_RETURN(
      auto k, db.Query("SELECT id, description, created_at FROM keys WHERE id = ?1", key_id));
  KMRA_ASSIGN_OR_RETURN(bool found, k.Step());
  if (!found) return NotFound(fmt::format("no key '{}' in the registry", key_id));
  KeyRecord rec;
  rec.id = k.Text(0);
  rec.description = k.Text(1);
  rec.created_at = k.Int(2);
  KMRA_ASSIGN_OR_RETURN(
      auto v, db.Query("SELECT version, hsm_label, hsm_id, key_type, origin, cert_chain_pem, "
                       "created_at FROM key_versions WHERE key_id = ?1 ORDER BY version",
                       key_id));
  for (;;) {
    KMRA_ASSIGN_OR_RETURN(bool row, v.Step());
    if (!row) break;
    KeyVersion kv;
    kv.version = static_cast<int>(v.Int(0));
    kv.hsm_label = v.Text(1);
    kv.hsm_id = v.Blob(2);
    kv.key_type = v.Text(3);
    kv.origin = v.Text(4);
    kv.cert_chain_pem = v.Text(5);
    kv.created_at = v.Int(6);
    rec.versions.push_back(std::move(kv));
  }
  return rec;
}

Result<std::string> GetMeta(Db& db, const char* name) {
  KMRA_ASSIGN_OR_RETURN(auto s,
                        db.Query("SELECT value FROM meta WHERE name = ?1", std::string_view(name)));
  KMRA_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return DataLoss(fmt::format("the state database lacks meta entry {}", name));
  return s.Text(0);
}

Status SetMeta(Db& db, const char* name, const std::string& value) {
  return db.Run("INSERT OR REPLACE INTO meta(name, value) VALUES (?1, ?2)", std::string_view(name),
                value);
}

class SqliteStore final : public Store {
 public:
  SqliteStore(Db db, int busy_timeout_ms) : db_(std::move(db)), busy_timeout_ms_(busy_timeout_ms) {}

  Status Init() {
    // WAL lets readers run beside the writer; secure_delete overwrites deleted rows (consumed
    // nonces, deleted keys' metadata); foreign keys make DeleteKey cascade.
    KMRA_TRY(
        db_.Exec("PRAGMA journal_mode=WAL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON; "
                 "PRAGMA synchronous=NORMAL;"));
    return InTransaction(db_, [&]() -> Status {
      KMRA_TRY(db_.Exec(kSchema));
      auto version = GetMeta(db_, "schema_version");
      if (!version) return SetMeta(db_, "schema_version", std::to_string(kSchemaVersion));
      if (*version != std::to_string(kSchemaVersion)) {
        return FailedPrecondition(
            fmt::format("state database {} has schema version {}; this kmra "
                        "understands version {}",
                        db_.path(), *version, kSchemaVersion));
      }
      return OkStatus();
    });
  }

  Status CreateKey(const NewKey& key) override {
    KMRA_TRY(ValidateKeyId(key.id));
    std::lock_guard<std::mutex> lock(mu_);
    auto run = db_.Run("INSERT INTO keys(id, description, created_at) VALUES (?1, ?2, ?3)", key.id,
                       key.description, key.created_at);
    if (!run && run.error().code() == Code::kAlreadyExists) {
      return AlreadyExists(fmt::format("a key with id '{}' already exists", key.id));
    }
    return run;
  }

  Result<int> AddKeyVersion(const std::string& key_id, const KeyVersion& v) override {
    std::lock_guard<std::mutex> lock(mu_);
    return InTransaction(db_, [&]() -> Result<int> {
      KMRA_ASSIGN_OR_RETURN(auto k, db_.Query("SELECT 1 FROM keys WHERE id = ?1", key_id));
      KMRA_ASSIGN_OR_RETURN(bool exists, k.Step());
      if (!exists) return NotFound(fmt::format("no key '{}' in the registry", key_id));
      KMRA_ASSIGN_OR_RETURN(
          auto m, db_.Query("SELECT COALESCE(MAX(version), 0) FROM key_versions WHERE key_id = ?1",
                            key_id));
      KMRA_TRY(m.Step());
      int next = static_cast<int>(m.Int(0)) + 1;
      KMRA_TRY(db_.Run(
          "INSERT INTO key_versions(key_id, version, hsm_label, hsm_id, key_type, origin, "
          "cert_chain_pem, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
          key_id, static_cast<int64_t>(next), v.hsm_label, std::span<const uint8_t>(v.hsm_id),
          v.key_type, v.origin, v.cert_chain_pem, v.created_at));
      return next;
    });
  }

  Status SetCertificateChain(const std::string& key_id, int version,
                             const std::string& pem) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_TRY(
        db_.Run("UPDATE key_versions SET cert_chain_pem = ?3 WHERE key_id = ?1 AND version = ?2",
                key_id, static_cast<int64_t>(version), pem));
    if (db_.Changes() == 0)
      return NotFound(fmt::format("key '{}' has no version {}", key_id, version));
    return OkStatus();
  }

  Result<KeyRecord> GetKey(const std::string& key_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return LoadKey(db_, key_id);
  }

  Result<std::vector<KeyRecord>> ListKeys() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> ids;
    {
      KMRA_ASSIGN_OR_RETURN(auto s, db_.Prepare("SELECT id FROM keys ORDER BY id"));
      for (;;) {
        KMRA_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        ids.push_back(s.Text(0));
      }
    }
    std::vector<KeyRecord> out;
    for (const auto& id : ids) {
      KMRA_ASSIGN_OR_RETURN(auto rec, LoadKey(db_, id));
      out.push_back(std::move(rec));
    }
    return out;
  }

  Status DeleteKey(const std::string& key_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_TRY(db_.Run("DELETE FROM keys WHERE id = ?1", key_id));
    if (db_.Changes() == 0) return NotFound(fmt::format("no key '{}' in the registry", key_id));
    return OkStatus();
  }

  Status PutPolicy(const PolicyRecord& policy) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto run = db_.Run(
        "INSERT INTO policies(key_id, json, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(key_id) DO "
        "UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
        policy.key_id, policy.json, policy.updated_at);
    if (!run && run.error().code() == Code::kAlreadyExists) {  // the foreign key failed
      return NotFound(
          fmt::format("no key '{}' in the registry to attach a policy to", policy.key_id));
    }
    return run;
  }

  Result<PolicyRecord> GetPolicy(const std::string& key_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(
        auto s, db_.Query("SELECT json, updated_at FROM policies WHERE key_id = ?1", key_id));
    KMRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound(fmt::format("key '{}' has no policy", key_id));
    return PolicyRecord{key_id, s.Text(0), s.Int(1)};
  }

  Status PutNonce(std::span<const uint8_t> nonce, NonceKind kind, int64_t expires_at) override {
    if (nonce.empty() || nonce.size() > 256)
      return InvalidArgument("a nonce must be 1 to 256 bytes");
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(
        auto s,
        db_.Query(
            "INSERT INTO nonces(nonce, kind, expires_at, consumed_at) VALUES (?1, ?2, ?3, ?4)",
            nonce, static_cast<int64_t>(kind == NonceKind::kServerIssued ? 0 : 1), expires_at));
    // A client nonce is used the moment it is recorded.
    if (kind == NonceKind::kClientSeen) {
      KMRA_TRY(s.Bind(4, expires_at));
    } else {
      KMRA_TRY(s.BindNull(4));
    }
    auto run = s.Run();
    if (!run && run.error().code() == Code::kAlreadyExists) {
      return AlreadyExists(
          kind == NonceKind::kClientSeen
              ? "nonce replay: this client nonce was already used in an earlier request"
              : "nonce collision: the generated nonce already exists");
    }
    return run;
  }

  Status ConsumeNonce(std::span<const uint8_t> nonce, int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    // One UPDATE decides atomically, also across processes sharing the file.
    return ClaimNonceLocked({nonce, NonceKind::kServerIssued, now, 0});
  }

  Status CheckNonce(std::span<const uint8_t> nonce, NonceKind kind, int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    return CheckNonceLocked(nonce, kind, now);
  }

  Result<int64_t> CountNonces() override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(auto s, db_.Prepare("SELECT COUNT(*) FROM nonces"));
    KMRA_TRY(s.Step());
    return s.Int(0);
  }

  Result<int64_t> PurgeExpiredNonces(int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_TRY(db_.Run("DELETE FROM nonces WHERE expires_at < ?1", now));
    return db_.Changes();
  }

  Result<AuditRecord> AppendAudit(const std::string& json, int64_t time) override {
    KMRA_TRY(internal::CheckAuditJson(json));
    std::lock_guard<std::mutex> lock(mu_);
    return InTransaction(db_, [&] { return AppendAuditLocked(json, time); });
  }

  Result<AuditRecord> AppendAuditClaimingNonce(const std::string& json, int64_t time,
                                               const NonceClaim& claim) override {
    KMRA_TRY(internal::CheckAuditJson(json));
    std::lock_guard<std::mutex> lock(mu_);
    return InTransaction(db_, [&]() -> Result<AuditRecord> {
      KMRA_TRY(ClaimNonceLocked(claim));
      return AppendAuditLocked(json, time);
    });
  }

  Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& q) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(auto s,
                          db_.Query("SELECT seq, time, json, prev_hash, hash FROM audit WHERE seq "
                                    "> ?1 AND time >= ?2 ORDER BY seq LIMIT ?3",
                                    q.after_seq, q.since_time, static_cast<int64_t>(q.limit)));
    std::vector<AuditRecord> out;
    for (;;) {
      KMRA_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(AuditRecord{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4)});
    }
    return out;
  }

  Result<ChainVerdict> VerifyAuditChain() override;

  Status PutCollateral(const CollateralEntry& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    return db_.Run(
        "INSERT OR REPLACE INTO collateral(key, value, fetched_at, next_update) VALUES (?1, ?2, "
        "?3, ?4)",
        e.key, std::span<const uint8_t>(e.value), e.fetched_at, e.next_update);
  }

  Result<CollateralEntry> GetCollateral(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_ASSIGN_OR_RETURN(
        auto s,
        db_.Query("SELECT value, fetched_at, next_update FROM collateral WHERE key = ?1", key));
    KMRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound(fmt::format("no cached collateral '{}'", key));
    return CollateralEntry{key, s.Blob(0), s.Int(1), s.Int(2)};
  }

  Result<bool> TryLease(const std::string& name, const std::string& holder, int64_t now,
                        int64_t seconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    KMRA_TRY(db_.Run(
        "INSERT INTO leases(name, holder, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO "
        "UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at WHERE leases.holder "
        "= excluded.holder OR leases.expires_at <= ?4",
        name, holder, now + seconds, now));
    return db_.Changes() == 1;
  }

  Status Ping() override {
    std::lock_guard<std::mutex> lock(mu_);
    return InTransaction(db_, [&]() -> Status {
      return db_.Exec("UPDATE meta SET value = value WHERE name = 'schema_version'");
    });
  }

 private:
  // The audit append, inside the caller's transaction (mu_ held).
  Result<AuditRecord> AppendAuditLocked(const std::string& json, int64_t time) {
    // Chain to the stored head, not to the last row: a deleted tail then stays detectable.
    KMRA_ASSIGN_OR_RETURN(auto head_seq, GetMeta(db_, "audit_head_seq"));
    KMRA_ASSIGN_OR_RETURN(auto head_hash, GetMeta(db_, "audit_head_hash"));
    AuditRecord rec;
    KMRA_ASSIGN_OR_RETURN(int64_t last_seq, internal::ParseHeadSeq(head_seq));
    rec.seq = last_seq + 1;
    rec.time = time;
    rec.json = json;
    rec.prev_hash = head_hash;
    rec.hash = AuditHash(rec.prev_hash, rec.seq, rec.time, rec.json);
    KMRA_TRY(
        db_.Run("INSERT INTO audit(seq, time, json, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                rec.seq, rec.time, rec.json, rec.prev_hash, rec.hash));
    KMRA_TRY(SetMeta(db_, "audit_head_seq", std::to_string(rec.seq)));
    KMRA_TRY(SetMeta(db_, "audit_head_hash", rec.hash));
    return rec;
  }

  Status CheckNonceLocked(std::span<const uint8_t> nonce, NonceKind kind, int64_t now) {
    KMRA_ASSIGN_OR_RETURN(
        auto s,
        db_.Query("SELECT kind, expires_at, consumed_at FROM nonces WHERE nonce = ?1", nonce));
    KMRA_ASSIGN_OR_RETURN(bool row, s.Step());
    return internal::NonceVerdict(kind, now,
                                  row ? std::optional<internal::NonceRow>(internal::NonceRow{
                                            s.Int(0) != 0, s.Int(1), !s.IsNull(2)})
                                      : std::nullopt);
  }

  // Marks the nonce used (server) or records it (client), inside the caller's transaction.
  Status ClaimNonceLocked(const NonceClaim& c) {
    if (c.kind == NonceKind::kServerIssued) {
      KMRA_TRY(
          db_.Run("UPDATE nonces SET consumed_at = ?2 WHERE nonce = ?1 AND kind = 0 AND "
                  "consumed_at IS NULL AND expires_at >= ?2",
                  c.nonce, c.now));
      if (db_.Changes() == 1) return OkStatus();
      KMRA_TRY(CheckNonceLocked(c.nonce, c.kind, c.now));
      return FailedPrecondition("the nonce could not be claimed");
    }
    if (c.nonce.empty() || c.nonce.size() > 256)
      return InvalidArgument("a nonce must be 1 to 256 bytes");
    auto run =
        db_.Run("INSERT INTO nonces(nonce, kind, expires_at, consumed_at) VALUES (?1, 1, ?2, ?3)",
                c.nonce, c.expires_at, c.now);
    if (!run && run.error().code() == Code::kAlreadyExists)
      return tl::unexpected(internal::NonceReplayed());
    return run;
  }

  std::mutex mu_;
  Db db_;
  const int busy_timeout_ms_;
};

Result<ChainVerdict> SqliteStore::VerifyAuditChain() {
  // Its own connection and snapshot, without mu_: a verify of a long log does not stall the
  // releases appending beside it (WAL lets readers run beside the one writer).
  KMRA_ASSIGN_OR_RETURN(Db db, Db::Open(db_.path(), /*create=*/false, busy_timeout_ms_));
  // Read the head and the rows in one snapshot.
  KMRA_TRY(db.Exec("BEGIN"));
  struct Rollback {
    Db& db;
    ~Rollback() { (void)db.Exec("ROLLBACK"); }
  } rollback{db};
  KMRA_ASSIGN_OR_RETURN(auto head_seq, GetMeta(db, "audit_head_seq"));
  KMRA_ASSIGN_OR_RETURN(auto head_hash, GetMeta(db, "audit_head_hash"));
  KMRA_ASSIGN_OR_RETURN(
      auto s, db.Prepare("SELECT seq, time, json, prev_hash, hash FROM audit ORDER BY seq"));
  internal::ChainChecker checker;
  for (;;) {
    KMRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (!checker.Add(AuditRecord{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4)})) break;
  }
  KMRA_ASSIGN_OR_RETURN(int64_t last_seq, internal::ParseHeadSeq(head_seq));
  return checker.Finish(last_seq, head_hash);
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteOptions& options) {
  if (path.empty()) return InvalidArgument("no state database path given");
  if (options.create) KMRA_TRY(PrepareFile(path));
  KMRA_ASSIGN_OR_RETURN(auto db, Db::Open(path, options.create, options.busy_timeout_ms));
  auto store = std::make_unique<SqliteStore>(std::move(db), options.busy_timeout_ms);
  auto init = store->Init();
  if (!init)
    return tl::unexpected(init.error().WithContext(fmt::format("state database {}", path)));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace kmra::store
