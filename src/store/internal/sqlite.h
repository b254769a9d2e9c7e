// A small RAII layer over the SQLite C API that reports errors as Status (private to src/store).
//
//   KMRA_ASSIGN_OR_RETURN(auto db, Db::Open(path, 5000));
//   KMRA_ASSIGN_OR_RETURN(auto stmt, db.Query("SELECT v FROM t WHERE k = ?1", key));
//   KMRA_ASSIGN_OR_RETURN(bool row, stmt.Step());
//
// Not thread safe: the store serialises access to one Db with a mutex.
//
// Prepared statements are kept per SQL text: a Stmt goes back to its Db when it is destroyed
// (reset, bindings cleared), so the next Prepare of the same text skips SQLite's parser and
// planner.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"

namespace kmra::store::internal {

class Db;

class Stmt {
 public:
  Stmt(Stmt&& other) noexcept
      : db_(other.db_), stmt_(other.stmt_), owner_(other.owner_), sql_(std::move(other.sql_)) {
    other.stmt_ = nullptr;
  }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  Status Bind(int index, int64_t value);
  Status Bind(int index, std::string_view text);
  Status Bind(int index, std::span<const uint8_t> blob);
  Status BindNull(int index);
  // Binds ?1, ?2, ... to `values` in order (each as a Bind above takes it); stops at the first
  // error.
  template <class... T>
  Status BindAll(const T&... values) {
    int index = 0;
    Status status = OkStatus();
    (void)((status = Bind(++index, values), status.has_value()) && ...);
    return status;
  }

  // Runs one step: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, expecting no rows.
  Status Run();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const;
  std::vector<uint8_t> Blob(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* stmt, Db* owner, std::string sql)
      : db_(db), stmt_(stmt), owner_(owner), sql_(std::move(sql)) {}

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  Db* owner_;        // takes the statement back on destruction
  std::string sql_;  // its cache key
};

class Db {
 public:
  // Opens (creating when `create`) the database and sets busy_timeout.
  static Result<Db> Open(const std::string& path, bool create, int busy_timeout_ms);
  // Only a Db without statements in use may be moved (Open's result, before first use).
  Db(Db&& other) noexcept
      : db_(other.db_), path_(std::move(other.path_)), cache_(std::move(other.cache_)) {
    other.db_ = nullptr;
  }
  Db& operator=(Db&&) = delete;
  Db(const Db&) = delete;
  ~Db();

  // A prepared statement for `sql` (one statement), from the cache when it was prepared before.
  Result<Stmt> Prepare(std::string_view sql);
  // Runs one or more statements without parameters.
  Status Exec(const std::string& sql);
  // Prepare(sql) with ?1, ?2, ... bound to `params` in order, ready to Step.
  template <class... P>
  Result<Stmt> Query(std::string_view sql, const P&... params) {
    KMRA_ASSIGN_OR_RETURN(auto stmt, Prepare(sql));
    KMRA_TRY(stmt.BindAll(params...));
    return stmt;
  }
  // Runs one statement without parameters through the statement cache (BEGIN, COMMIT, ...).
  Status Run(std::string_view sql);
  // Runs one statement with ?1, ?2, ... bound to `params` in order, expecting no rows.
  template <class P, class... Ps>
  Status Run(std::string_view sql, const P& first, const Ps&... rest) {
    KMRA_ASSIGN_OR_RETURN(auto stmt, Query(sql, first, rest...));
    return stmt.Run();
  }
  int64_t Changes() const { return sqlite3_changes64(db_); }

  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  friend class Stmt;
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void Return(std::string sql, sqlite3_stmt* stmt);

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// The Error for an SQLite result code: Unavailable for BUSY/LOCKED/IO/FULL/READONLY/CANTOPEN,
// AlreadyExists for constraint violations, DataLoss for CORRUPT/NOTADB, else Internal.
Error SqliteError(sqlite3* db, int rc, std::string_view what);

// Runs a transaction: BEGIN IMMEDIATE (takes the write lock at once, so concurrent writers queue on
// busy_timeout instead of failing mid-way), body, COMMIT; ROLLBACK when the body fails.
template <class F>
auto InTransaction(Db& db, F&& body) -> decltype(body()) {
  KMRA_TRY(db.Run("BEGIN IMMEDIATE"));
  auto result = body();
  if (!result) {
    (void)db.Run("ROLLBACK");
    return result;
  }
  auto commit = db.Run("COMMIT");
  if (!commit) {
    (void)db.Run("ROLLBACK");
    return tl::unexpected(commit.error());
  }
  return result;
}

}  // namespace kmra::store::internal
