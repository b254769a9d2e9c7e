// Store: the key server's state. Keys registry (with versions), per-key release policies,
// single-use nonces, and the hash-chained audit log; plus a small collateral cache table.
//
//   KMRA_ASSIGN_OR_RETURN(auto store, store::OpenSqliteStore("/var/lib/kmra/state.db"));
//   KMRA_TRY(store->CreateKey({.id = "web", .created_at = now}));
//
// Times are unix seconds supplied by the caller (inject a clock; the store never reads the time
// itself). Errors: NotFound / AlreadyExists for the named things, Unavailable when the database is
// locked or cannot be written, DataLoss when stored data is inconsistent.
//
// Thread safety: every implementation is safe to use from many threads at once, and several
// processes (server replicas) may share one database: nonces are consumed atomically across them,
// and audit appends are serialised so the chain stays linear.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kmra::store {

// The longest key id: KMRA's h_unique_id is an opaque string, and Intel's
// trusted-certificate-issuer sends its signer name ("tcsissuer.tcs.intel.com/sandbox.external-ca").
inline constexpr size_t kMaxKeyIdBytes = 255;

// A key id is 1 to 255 bytes of printable ASCII (0x20-0x7e), '/' and ':' included. InvalidArgument
// naming the offending byte otherwise. The one rule for the store, the admin API, the CLI and
// apphsm.conf.
inline Status ValidateKeyId(std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdBytes) {
    return InvalidArgument("a key id must be 1 to " + std::to_string(kMaxKeyIdBytes) +
                           " bytes long (this one is " + std::to_string(id.size()) + ")");
  }
  for (size_t i = 0; i < id.size(); ++i) {
    const auto c = static_cast<unsigned char>(id[i]);
    if (c < 0x20 || c > 0x7e) {
      return InvalidArgument("key id byte " + std::to_string(i) + " is 0x" +
                             "0123456789abcdef"[c >> 4] + "0123456789abcdef"[c & 15] +
                             "; a key id is printable ASCII (0x20 to 0x7e)");
    }
  }
  return OkStatus();
}

// One version of a key: which HSM object holds it, and its certificate chain.
struct KeyVersion {
  int version = 0;              // 1, 2, ... (assigned by AddKeyVersion)
  std::string hsm_label;        // CKA_LABEL of the private key in the HSM
  std::vector<uint8_t> hsm_id;  // CKA_ID of the private key in the HSM
  std::string key_type;         // "rsa-2048", "ec-p256", ... (p11::KeySpec spelling)
  std::string origin;           // "generated" (in the HSM) or "imported"
  std::string cert_chain_pem;   // leaf first; may be empty until a certificate is attached
  int64_t created_at = 0;
};

struct KeyRecord {
  std::string id;  // the key id clients ask for (KMRA h_unique_id; see ValidateKeyId)
  std::string description;
  int64_t created_at = 0;
  std::vector<KeyVersion> versions;  // ascending by version; never empty for a usable key
  // The version releases serve (the highest), or nullptr when there is none yet.
  const KeyVersion* newest() const { return versions.empty() ? nullptr : &versions.back(); }
};

struct NewKey {
  std::string id;
  std::string description;
  int64_t created_at = 0;
};

// A policy as the server stores it: JSON text whose fields the server defines.
struct PolicyRecord {
  std::string key_id;
  std::string json;
  int64_t updated_at = 0;
};

// Why a nonce was issued.
enum class NonceKind {
  kServerIssued,  // POST /v1/nonce: must be consumed once before it expires
  kClientSeen,    // a KMRA client nonce: recorded so the same bytes are never accepted again
};

// A nonce used by a successful release, claimed in the same transaction as its audit record, so a
// nonce is spent exactly when a key is released (a refused or failed request leaves it usable).
struct NonceClaim {
  std::span<const uint8_t> nonce;
  NonceKind kind = NonceKind::kServerIssued;
  int64_t now = 0;         // kServerIssued: the nonce must not have expired at this time
  int64_t expires_at = 0;  // kClientSeen: how long the record of these bytes is kept
};

struct AuditRecord {
  int64_t seq = 0;        // 1, 2, ... without gaps
  int64_t time = 0;       // unix seconds
  std::string json;       // the record (who, what key, verdict, ...), as the server wrote it
  std::string prev_hash;  // hex SHA-256 of the previous record ("" x 64 zeros for the first)
  std::string hash;       // hex SHA-256 over prev_hash, seq, time and json (see docs/store.md)
};

struct AuditQuery {
  int64_t after_seq = 0;   // records with seq > after_seq
  int64_t since_time = 0;  // and time >= since_time
  size_t limit = 100;      // at most this many, oldest first
};

// The result of checking the audit chain.
struct ChainVerdict {
  bool intact = false;
  int64_t records = 0;        // records checked
  int64_t first_bad_seq = 0;  // the first record that does not verify (0 when intact)
  std::string problem;        // what is wrong with it, for a person
};

// A cached collateral blob (owned by the collateral component; opaque here).
struct CollateralEntry {
  std::string key;  // e.g. "tcb/sgx/00906ED50000"
  std::vector<uint8_t> value;
  int64_t fetched_at = 0;
  int64_t next_update = 0;  // when the issuer says to refresh
};

class Store {
 public:
  virtual ~Store() = default;

  // --- keys ---
  // AlreadyExists when the id is taken; InvalidArgument for an id ValidateKeyId refuses.
  virtual Status CreateKey(const NewKey& key) = 0;
  // Adds the next version (1 for the first) and returns its number. NotFound for an unknown key.
  virtual Result<int> AddKeyVersion(const std::string& key_id, const KeyVersion& version) = 0;
  // Replaces the certificate chain of one version. NotFound for an unknown key or version.
  virtual Status SetCertificateChain(const std::string& key_id, int version,
                                     const std::string& chain_pem) = 0;
  virtual Result<KeyRecord> GetKey(const std::string& key_id) = 0;
  // All keys, ordered by id.
  virtual Result<std::vector<KeyRecord>> ListKeys() = 0;
  // Deletes the key, its versions and its policy. NotFound for an unknown key.
  virtual Status DeleteKey(const std::string& key_id) = 0;

  // --- policies ---
  // Creates or replaces the key's policy. NotFound for an unknown key.
  virtual Status PutPolicy(const PolicyRecord& policy) = 0;
  // NotFound when the key has no policy.
  virtual Result<PolicyRecord> GetPolicy(const std::string& key_id) = 0;

  // --- nonces ---
  // Records a nonce valid until expires_at. For kClientSeen this is the check-and-record of a KMRA
  // client nonce: AlreadyExists when those bytes were seen before (a replay). For kServerIssued,
  // AlreadyExists on a (practically impossible) collision.
  virtual Status PutNonce(std::span<const uint8_t> nonce, NonceKind kind, int64_t expires_at) = 0;
  // Consumes a server-issued nonce exactly once, atomically across threads and processes.
  // NotFound: never issued (or purged); FailedPrecondition: already used, or expired at `now`.
  virtual Status ConsumeNonce(std::span<const uint8_t> nonce, int64_t now) = 0;
  // Deletes nonces that expired before `now`; returns how many. (Expired client nonces are also
  // rejected by their own timestamp, so forgetting them is safe.)
  virtual Result<int64_t> PurgeExpiredNonces(int64_t now) = 0;
  // Checks, without using it, that a nonce may still serve a release at `now`. kServerIssued:
  // NotFound when never issued (or purged), FailedPrecondition when used or expired. kClientSeen:
  // AlreadyExists when a release already used these bytes.
  virtual Status CheckNonce(std::span<const uint8_t> nonce, NonceKind kind, int64_t now) = 0;
  // How many nonces the table holds (issued, used and seen, until purged).
  virtual Result<int64_t> CountNonces() = 0;

  // --- audit ---
  // Appends a record, chaining it to the last one. `json` must be a JSON object (not checked
  // deeply).
  virtual Result<AuditRecord> AppendAudit(const std::string& json, int64_t time) = 0;
  // Appends a record and claims a nonce in one transaction: both happen or neither. The errors of
  // CheckNonce (the nonce was used meanwhile, or expired) leave the log unchanged.
  virtual Result<AuditRecord> AppendAuditClaimingNonce(const std::string& json, int64_t time,
                                                       const NonceClaim& claim) = 0;
  virtual Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) = 0;
  // Recomputes every hash and link; a removed, inserted, reordered or edited record (or removed
  // tail records, via the stored chain head) makes the verdict not intact and names the first bad
  // record.
  virtual Result<ChainVerdict> VerifyAuditChain() = 0;

  // --- collateral cache ---
  virtual Status PutCollateral(const CollateralEntry& entry) = 0;
  // NotFound when absent.
  virtual Result<CollateralEntry> GetCollateral(const std::string& key) = 0;

  // --- leases ---
  // Takes or renews the lease `name` for `holder` until now + seconds. True when `holder` holds it
  // now (it was free, had expired, or was already its own); false while another holder's lease
  // runs. Replicas sharing a database use it so that one of them does a job at a time (the refresh
  // of a platform's collateral); a holder that dies frees it by letting it expire.
  virtual Result<bool> TryLease(const std::string& name, const std::string& holder, int64_t now,
                                int64_t seconds) = 0;

  // --- health ---
  // OK when the database answers and accepts a write (for /readyz).
  virtual Status Ping() = 0;
};

struct SqliteOptions {
  int busy_timeout_ms = 5000;
  bool create = true;  // create the file (mode 0600, parent dir 0700 if made) when missing
};

// Opens (and creates or migrates) a SQLite store at `path` with WAL, busy_timeout and
// secure_delete.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteOptions& options = {});

// Computes the chain hash of a record: hex SHA-256 of
// prev_hash || "\n" || seq || "\n" || time || "\n" || json   (decimal numbers, see docs/store.md).
std::string AuditHash(const std::string& prev_hash, int64_t seq, int64_t time,
                      const std::string& json);

// The prev_hash of the first record: 64 '0' characters.
const std::string& GenesisHash();

}  // namespace kmra::store
