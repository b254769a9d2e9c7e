// The kmra_* tables of the PostgreSQL store (docs/store.md), created and upgraded in one
// transaction under an advisory lock, so replicas starting together neither race nor half-apply.
#pragma once

#include "base/result.h"
#include "store/internal/pg.h"

namespace kmra::store::internal {

// The schema version this build writes and reads.
inline constexpr int kPostgresSchemaVersion = 2;

// Creates the tables of an empty database, upgrades an older schema step by step, and refuses a
// newer one (FailedPrecondition naming both versions).
Status InitPostgresSchema(PgConn& conn);

}  // namespace kmra::store::internal
