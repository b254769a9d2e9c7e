// The state store a ServerConfig names: SQLite at [store] path (the default), or PostgreSQL at
// [store] url with its password from [store] password_file or libpq's environment (docs/store.md
// "In the key server").
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "server/config.h"
#include "store/store.h"

namespace kmra::server {

// Opens (and creates or upgrades) the store. Errors name the setting and where it points, never
// the password.
Result<std::unique_ptr<store::Store>> OpenStateStore(const ServerConfig& config);

// "sqlite" or "postgresql".
std::string StateStoreBackend(const ServerConfig& config);
// "sqlite /var/lib/kmra/state.db", "postgresql host=db1,db2 dbname=kmra user=kmra": for logs.
std::string DescribeStateStore(const ServerConfig& config);

// The first line of a secret file (a PIN or a password) without its line end. `setting` names the
// config setting in errors. FailedPrecondition when the file is empty.
Result<SecretBytes> ReadSecretLine(const std::string& path, const std::string& setting);

}  // namespace kmra::server
