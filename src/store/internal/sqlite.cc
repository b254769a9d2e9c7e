#include "store/internal/sqlite.h"

#include <fmt/format.h>

namespace kmra::store::internal {

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = fmt::format("{}: {} (sqlite {})", what, msg ? msg : sqlite3_errstr(rc), rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return Error(Code::kUnavailable, std::move(text));
    case SQLITE_CONSTRAINT:
      return Error(Code::kAlreadyExists, std::move(text));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Error(Code::kDataLoss, std::move(text));
    default:
      return Error(Code::kInternal, std::move(text));
  }
}

Status Stmt::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) return tl::unexpected(SqliteError(db_, rc, "bind"));
  return OkStatus();
}

Status Stmt::Bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) return tl::unexpected(SqliteError(db_, rc, "bind"));
  return OkStatus();
}

Status Stmt::Bind(int index, std::span<const uint8_t> blob) {
  static const uint8_t kEmpty = 0;
  const void* data = blob.empty() ? &kEmpty : blob.data();
  int rc = sqlite3_bind_blob64(stmt_, index, data, blob.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return tl::unexpected(SqliteError(db_, rc, "bind"));
  return OkStatus();
}

Status Stmt::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) return tl::unexpected(SqliteError(db_, rc, "bind"));
  return OkStatus();
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(SqliteError(db_, rc, "sqlite3_step"));
}

Status Stmt::Run() {
  for (;;) {
    KMRA_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

std::string Stmt::Text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

std::vector<uint8_t> Stmt::Blob(int column) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::vector<uint8_t>() : std::vector<uint8_t>(p, p + n);
}

Result<Db> Db::Open(const std::string& path, bool create, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw, path);
  if (rc != SQLITE_OK) {
    return tl::unexpected(SqliteError(raw, rc, fmt::format("cannot open state database {}", path)));
  }
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  if (owner_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);  // ends a read left open by a SELECT not stepped to the end
  sqlite3_clear_bindings(stmt_);
  owner_->Return(std::move(sql_), stmt_);
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  std::string key(sql);
  if (auto it = cache_.find(key); it != cache_.end()) {
    sqlite3_stmt* stmt = it->second;
    cache_.erase(it);  // checked out; a nested Prepare of the same text prepares another one
    return Stmt(db_, stmt, this, std::move(key));
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return tl::unexpected(SqliteError(db_, rc, "prepare"));
  return Stmt(db_, stmt, this, std::move(key));
}

void Db::Return(std::string sql, sqlite3_stmt* stmt) {
  auto [it, inserted] = cache_.emplace(std::move(sql), stmt);
  if (!inserted) sqlite3_finalize(stmt);
}

Status Db::Run(std::string_view sql) {
  KMRA_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  return stmt.Run();
}

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Error e = SqliteError(db_, rc, "exec");
    return tl::unexpected(Error(e.code(), fmt::format("{}: {}", msg, sql.substr(0, 40))));
  }
  return OkStatus();
}

}  // namespace kmra::store::internal
