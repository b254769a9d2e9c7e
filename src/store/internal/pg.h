// libpq behind Status (private to src/store): one connection (PgConn) and a bounded pool of them
// (PgPool) for the PostgreSQL store.
//
//   PgPool pool(settings, {.size = 4, .name = "requests"});
//   KMRA_ASSIGN_OR_RETURN(auto conn, pool.Acquire());
//   KMRA_ASSIGN_OR_RETURN(auto r, conn->Exec("SELECT 1 FROM kmra_keys WHERE id = $1", {P(id)}));
//
// Values are bound with PQexecParams (BYTEA in binary), never spliced into SQL. Connection problems
// are Unavailable; a connection that saw one is dropped by the pool and a fresh one is made on the
// next Acquire, so a restart or failover of PostgreSQL needs no restart of ours (with a multi-host
// conninfo and target_session_attrs=read-write, libpq finds the new primary).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::store::internal {

// A query parameter: text, or binary bytes (for BYTEA), or SQL NULL.
struct PgParam {
  std::string value;
  bool binary = false;
  bool null = false;
};
inline PgParam P(std::string_view s) { return PgParam{std::string(s), false, false}; }
inline PgParam P(int64_t v) { return PgParam{std::to_string(v), false, false}; }
inline PgParam Bytes(std::span<const uint8_t> b) {
  return PgParam{std::string(b.begin(), b.end()), true, false};
}
inline PgParam Null() { return PgParam{"", false, true}; }

struct PgResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

std::string PgText(const PgResult& r, int row, int col);
int64_t PgInt(const PgResult& r, int row, int col);
// Rows an INSERT/UPDATE/DELETE touched.
int64_t PgAffected(const PgResult& r);
// encode(x, 'hex') output (lower-case hex, even length) to bytes.
std::vector<uint8_t> PgHexToBytes(const std::string& hex);

// How to connect: the conninfo, and the password when it comes from a file (else libpq's own
// PGPASSWORD, PGPASSFILE or ~/.pgpass apply).
struct PgConnSettings {
  std::string conninfo;
  SecretBytes password;  // empty: none given
  std::string application_name = "kmra";
  int default_connect_timeout_s = 5;  // when the conninfo sets no connect_timeout
};

class PgConn {
 public:
  static Result<std::unique_ptr<PgConn>> Connect(const PgConnSettings& settings);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one statement. Unavailable for connection problems, a read-only server (a standby), a
  // server shutting down, serialization failures and lock timeouts; AlreadyExists for unique
  // violations, NotFound for foreign key violations, Internal otherwise.
  Result<PgResult> Exec(const char* sql, const std::vector<PgParam>& params = {});
  // Runs several statements without parameters (the simple query protocol).
  Status ExecScript(const char* sql);

  // Runs `body` inside BEGIN (or `begin`) / COMMIT, rolling back when it fails.
  template <class F>
  auto Tx(F&& body, const char* begin = "BEGIN") -> decltype(body()) {
    KMRA_TRY(Exec(begin));
    auto result = body();
    if (!result) {
      (void)Exec("ROLLBACK");
      return result;
    }
    auto commit = Exec("COMMIT");
    if (!commit) return tl::unexpected(commit.error());
    return result;
  }

  // True when the connection can serve a request: connected, outside a transaction, and neither
  // closed by the server (read without a round trip) nor marked broken by an error.
  bool Usable();

 private:
  explicit PgConn(PGconn* conn) : conn_(conn) {}
  Error ErrorOf(const PgResult& res, ExecStatusType status);

  PGconn* conn_;
  bool broken_ = false;
};

struct PgPoolOptions {
  std::size_t size = 4;
  std::string name = "requests";  // in messages: which pool is busy
  std::chrono::milliseconds acquire_timeout{10'000};
  // After a failed connect, Acquire fails at once with that error for as long as the attempt took,
  // at most this long: while a database host does not answer, requests get 503 at once instead of
  // each waiting for connect_timeout; a refused connection (fails at once) is retried at once.
  std::chrono::milliseconds retry_interval{1'000};
};

class PgPool {
 public:
  // `settings` must outlive the pool.
  PgPool(const PgConnSettings& settings, PgPoolOptions options)
      : settings_(settings), options_(std::move(options)) {}
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(std::move(conn_));
    }
    PgConn* operator->() const { return conn_.get(); }
    PgConn& operator*() const { return *conn_; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<PgConn> conn) : pool_(pool), conn_(std::move(conn)) {}
    PgPool* pool_;
    std::unique_ptr<PgConn> conn_;
  };

  // A usable connection: an idle one, else a new one while fewer than `size` exist, else the first
  // returned within acquire_timeout (Unavailable naming the pool when none is).
  Result<Lease> Acquire();

 private:
  void Return(std::unique_ptr<PgConn> conn);

  const PgConnSettings& settings_;
  const PgPoolOptions options_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  std::size_t open_ = 0;  // leased or being connected
  std::chrono::steady_clock::time_point retry_after_{};
  std::string last_error_;  // empty: the last connect succeeded
};

}  // namespace kmra::store::internal
