// The PostgreSQL implementation of Store, for several `kmra server` replicas sharing state.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "store/store.h"

namespace kmra::store {

struct PostgresOptions {
  // A libpq connection string or URI: "postgresql://kmra@db.example/kmra?sslmode=verify-full",
  // "host=/run/postgresql dbname=kmra", or several hosts ("host=db1,db2 ...
  // target_session_attrs=read-write") so that libpq finds the primary after a failover.
  std::string conninfo;
  // The password when it comes from a file; empty: libpq's own (PGPASSWORD, PGPASSFILE,
  // ~/.pgpass). It takes precedence over a password inside `conninfo`.
  SecretBytes password;
  // Connections for requests (keys, policies, nonces, audit appends), and separate ones for the
  // long reads of the audit log (VerifyAuditChain, ListAudit), so those never hold up a release.
  int pool_size = 4;
  int audit_pool_size = 1;
  // How long a request waits for a busy pool before Unavailable.
  int acquire_timeout_ms = 10'000;
  // Used when the conninfo sets no connect_timeout (libpq would wait for the operating system).
  int default_connect_timeout_s = 5;
  std::string application_name = "kmra";  // libpq fallback_application_name (pg_stat_activity)
};

// Connects, creates or upgrades the kmra_* tables (in one transaction under an advisory lock, so
// replicas may start together) and returns the store. Errors: Unavailable when the server cannot be
// reached or refuses us (libpq's message names the host and the user, never the password),
// FailedPrecondition for a newer schema version. Semantics are those of Store: nonces are consumed
// once across every replica, audit appends are serialised by a row lock on the chain head. A
// connection that fails is replaced on the next call: a restart or failover of PostgreSQL is
// Unavailable meanwhile and needs no restart of the store.
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo);

// Checks a connection string or URI without connecting: InvalidArgument naming what libpq cannot
// parse, an unknown sslmode, or (unless `allow_password`) a password inside it.
Status CheckPostgresConninfo(const std::string& conninfo, bool allow_password);

// Where a conninfo points, for logs and messages, without its password:
// "host=db1,db2 port=5432 dbname=kmra user=kmra sslmode=verify-full".
std::string DescribePostgresTarget(const std::string& conninfo);

}  // namespace kmra::store
