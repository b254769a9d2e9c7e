// The PostgreSQL implementation of Store, for several `kmra server` replicas sharing state.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "store/store.h"

namespace kmra::store {

// Connects with a libpq connection string or URI ("postgresql://kmra@db.example/kmra",
// "host=/run/postgresql dbname=kmra"), creates the kmra_* tables when missing (under an advisory lock, so
// replicas may start together) and returns the store. Errors: Unavailable when the server cannot be
// reached (the message says where it tried), FailedPrecondition for a different schema version.
// Semantics are those of Store: nonces are consumed once across every replica, audit appends are
// serialised by a row lock on the chain head. The connection is re-established after a failure.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo);

}  // namespace kmra::store
