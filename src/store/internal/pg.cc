#include "store/internal/pg.h"

#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <string>

#include "store/internal/audit_chain.h"

namespace kmra::store::internal {
namespace {

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// SQLSTATEs after which the statement may succeed on another connection or a little later: class
// 08 (connection exception), 57P01-57P05 (the server shuts down, crashed, is starting up, or
// terminated us), 25006 (a read-only transaction: we reached a standby), 40001/40P01 (serialization
// failure, deadlock), 55P03 (lock not available).
bool Transient(const std::string& code) {
  return code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0 || code == "25006" ||
         code == "40001" || code == "40P01" || code == "55P03";
}

// Of those, the ones after which this connection is no use (reconnect, maybe to another host).
bool DropsConnection(const std::string& code) {
  return code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0 || code == "25006";
}

}  // namespace

std::string PgText(const PgResult& r, int row, int col) {
  return std::string(PQgetvalue(r.get(), row, col),
                     static_cast<size_t>(PQgetlength(r.get(), row, col)));
}

int64_t PgInt(const PgResult& r, int row, int col) { return ParseInt(PgText(r, row, col)); }

int64_t PgAffected(const PgResult& r) {
  const char* n = PQcmdTuples(r.get());
  return n && *n ? ParseInt(n) : 0;
}

std::vector<uint8_t> PgHexToBytes(const std::string& hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const PgConnSettings& s) {
  // Keywords are applied in order and the later wins: the defaults come before the conninfo
  // (expanded from "dbname"), so its own connect_timeout wins; the password file comes after it.
  const std::string timeout = std::to_string(s.default_connect_timeout_s);
  std::vector<const char*> keys = {"connect_timeout", "fallback_application_name", "dbname"};
  std::vector<const char*> values = {timeout.c_str(), s.application_name.c_str(),
                                     s.conninfo.c_str()};
  SecretBytes password;
  if (!s.password.empty()) {
    password = s.password;
    password.resize(password.size() + 1);  // the C string's NUL
    keys.push_back("password");
    values.push_back(reinterpret_cast<const char*>(password.Reveal().data()));
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn == nullptr)
    return Unavailable("cannot connect to the PostgreSQL state store: no memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    // libpq's message names the host and the user, never the password.
    return Unavailable(fmt::format("cannot connect to the PostgreSQL state store: {}", why));
  }
  // Notices (such as "relation ... already exists, skipping" of the schema set-up) are not errors:
  // libpq would print them on standard error.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConn>(new PgConn(conn));
}

PgConn::~PgConn() { PQfinish(conn_); }

Error PgConn::ErrorOf(const PgResult& res, ExecStatusType status) {
  (void)status;
  std::string msg = Trimmed(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_));
  const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = state ? state : "";
  if (PQstatus(conn_) != CONNECTION_OK || code.empty() || DropsConnection(code)) broken_ = true;
  if (PQstatus(conn_) != CONNECTION_OK || code.empty() || Transient(code)) {
    return Error(Code::kUnavailable, fmt::format("PostgreSQL state store: {}{}", msg,
                                                 code.empty() ? "" : " (SQLSTATE " + code + ")"));
  }
  if (code == "23505") return Error(Code::kAlreadyExists, msg);
  if (code == "23503") return Error(Code::kNotFound, msg);
  return Error(Code::kInternal, fmt::format("PostgreSQL state store: {} (SQLSTATE {})", msg, code));
}

Result<PgResult> PgConn::Exec(const char* sql, const std::vector<PgParam>& params) {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return Unavailable("PostgreSQL state store: the connection was lost");
  }
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
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  return tl::unexpected(ErrorOf(res, st));
}

Status PgConn::ExecScript(const char* sql) {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return Unavailable("PostgreSQL state store: the connection was lost");
  }
  PgResult res(PQexec(conn_, sql));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return OkStatus();
  return tl::unexpected(ErrorOf(res, st));
}

bool PgConn::Usable() {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) return false;
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) return false;
  // An idle connection the server wrote to is not used again. We neither LISTEN nor SET, so what
  // arrives unasked is a server that shut down or a failover that ended our session: its FATAL
  // message, then end of file. libpq notices the end of file only on a read after the one that
  // took the message, so a connection could still look good here and fail its next statement
  // (a 503 for the first request after a failover); poll() sees either without waiting.
  pollfd p{PQsocket(conn_), POLLIN, 0};
  if (p.fd < 0) return false;
  const int ready = poll(&p, 1, 0);
  if (ready != 0) {
    broken_ = true;
    return false;
  }
  return true;
}

Result<PgPool::Lease> PgPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<PgConn> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->Usable()) {
        ++open_;
        return Lease(this, std::move(conn));
      }
      // Closed by the server (a restart or failover) or broken: dropped, made anew below.
    }
    if (open_ < options_.size) break;
    if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.size) {
      return Unavailable(fmt::format(
          "all {} connections of the PostgreSQL state store's {} pool stayed busy for {} ms "
          "(raise [store] pool_size, or see what holds them in pg_stat_activity)",
          options_.size, options_.name, options_.acquire_timeout.count()));
    }
  }
  if (!last_error_.empty() && std::chrono::steady_clock::now() < retry_after_) {
    return Unavailable(last_error_);
  }
  ++open_;
  lock.unlock();
  const auto started = std::chrono::steady_clock::now();
  auto conn = PgConn::Connect(settings_);
  lock.lock();
  if (!conn) {
    --open_;
    last_error_ = conn.error().message();
    const auto now = std::chrono::steady_clock::now();
    retry_after_ =
        now + std::min<std::chrono::steady_clock::duration>(options_.retry_interval, now - started);
    returned_.notify_one();
    return tl::unexpected(conn.error());
  }
  last_error_.clear();
  return Lease(this, std::move(*conn));
}

void PgPool::Return(std::unique_ptr<PgConn> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
  // A connection that failed, or was left inside a transaction, is closed rather than reused.
  if (conn && conn->Usable()) idle_.push_back(std::move(conn));
  returned_.notify_one();
}

}  // namespace kmra::store::internal
