// [store] (SQLite or PostgreSQL, pool sizes, the database password) and [server] (the replica name)
// of the key server's TOML config (docs/store.md "In the key server", docs/server.md "Replicas").
#include <unistd.h>

#include <cctype>

#include "server/internal/config_reader.h"
#include "store/postgres_store.h"

namespace kmra::server {
namespace {

constexpr std::size_t kMaxReplicaName = 64;

Status CheckReplicaName(const std::string& name) {
  if (name.empty() || name.size() > kMaxReplicaName) {
    return InvalidArgument("[server] replica must be 1 to " + std::to_string(kMaxReplicaName) +
                           " characters (this one has " + std::to_string(name.size()) + ")");
  }
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') {
      return InvalidArgument("[server] replica \"" + name +
                             "\" may hold letters, digits, '-', '_' and '.' only");
    }
  }
  return OkStatus();
}

}  // namespace

std::string DefaultReplicaName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "kmra";
  std::string host(name);
  // A host name can be longer than a replica name; its first label names the machine.
  if (host.size() > kMaxReplicaName) host = host.substr(0, host.find('.'));
  if (host.size() > kMaxReplicaName) host.resize(kMaxReplicaName);
  return host;
}

namespace internal {

Status ReadServerSettings(const toml::table& server, ServerConfig* c) {
  TableReader r(server, "server");
  r.Get("replica", &c->replica);
  KMRA_TRY(r.Finish());
  if (c->replica.empty()) c->replica = DefaultReplicaName();
  return CheckReplicaName(c->replica);
}

Status ReadStoreSettings(const toml::table& store, ServerConfig* c) {
  TableReader r(store, "store");
  r.Get("path", &c->store_path);
  r.Get("url", &c->store_url);
  r.Get("password_file", &c->store_password_file);
  r.Get("allow_password_in_url", &c->store_allow_password_in_url);
  r.Get("pool_size", &c->store_pool_size);
  r.Get("audit_pool_size", &c->store_audit_pool_size);
  KMRA_TRY(r.Finish());
  if (store.contains("path") && store.contains("url")) {
    return InvalidArgument(
        "[store] sets both path (SQLite) and url (PostgreSQL); keep the one store this server "
        "uses");
  }
  if (c->store_url.empty()) {
    for (const char* key :
         {"password_file", "allow_password_in_url", "pool_size", "audit_pool_size"}) {
      if (store.contains(key)) {
        return InvalidArgument(std::string("[store] ") + key +
                               " applies to PostgreSQL only; it needs [store] url");
      }
    }
    if (c->store_path.empty()) return InvalidArgument("[store] path must not be empty");
    return OkStatus();
  }
  if (c->store_pool_size < 1 || c->store_pool_size > 64) {
    return InvalidArgument("[store] pool_size must be from 1 to 64");
  }
  if (c->store_audit_pool_size < 1 || c->store_audit_pool_size > 8) {
    return InvalidArgument("[store] audit_pool_size must be from 1 to 8");
  }
  if (auto checked = store::CheckPostgresConninfo(c->store_url, c->store_allow_password_in_url);
      !checked) {
    return InvalidArgument("[store] url: " + checked.error().message());
  }
  return OkStatus();
}

}  // namespace internal
}  // namespace kmra::server
