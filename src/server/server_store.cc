#include "server/server_store.h"

#include <algorithm>

#include "base/file.h"
#include "store/postgres_store.h"

namespace kmra::server {

Result<SecretBytes> ReadSecretLine(const std::string& path, const std::string& setting) {
  auto secret = ReadFileSecret(path, 4096);
  if (!secret) return tl::unexpected(secret.error().WithContext(setting));
  const auto bytes = secret->Reveal();
  const auto end = std::find_if(bytes.begin(), bytes.end(),
                                [](std::uint8_t b) { return b == '\n' || b == '\r'; });
  SecretBytes line(std::span(bytes.begin(), end));
  if (line.empty()) return FailedPrecondition(setting + " " + path + " is empty");
  if (std::find(line.Reveal().begin(), line.Reveal().end(), 0) != line.Reveal().end()) {
    return FailedPrecondition(setting + " " + path + " holds a NUL byte");
  }
  return line;
}

std::string StateStoreBackend(const ServerConfig& config) {
  return config.store_url.empty() ? "sqlite" : "postgresql";
}

std::string DescribeStateStore(const ServerConfig& config) {
  if (config.store_url.empty()) return "sqlite " + config.store_path;
  return "postgresql " + store::DescribePostgresTarget(config.store_url);
}

Result<std::unique_ptr<store::Store>> OpenStateStore(const ServerConfig& config) {
  if (config.store_url.empty()) {
    auto opened = store::OpenSqliteStore(config.store_path);
    if (!opened)
      return tl::unexpected(opened.error().WithContext("[store] path " + config.store_path));
    return opened;
  }
  store::PostgresOptions options;
  options.conninfo = config.store_url;
  options.pool_size = config.store_pool_size;
  options.audit_pool_size = config.store_audit_pool_size;
  options.application_name = "kmra-server " + config.replica;
  if (!config.store_password_file.empty()) {
    KMRA_ASSIGN_OR_RETURN(options.password,
                          ReadSecretLine(config.store_password_file, "[store] password_file"));
  }
  auto opened = store::OpenPostgresStore(options);
  if (!opened) return tl::unexpected(opened.error().WithContext("[store] url"));
  return opened;
}

}  // namespace kmra::server
