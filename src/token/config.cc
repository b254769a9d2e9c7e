#include "token/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace kmra::token {

std::string ConfigPath() {
  const char* env = std::getenv("KMRA_TOKEN_CONF");
  if (env != nullptr && *env != '\0') return env;
  return kDefaultConfigPath;
}

namespace {

Result<int64_t> GetInt(const toml::table& t, std::string_view key, int64_t def, int64_t lo,
                       int64_t hi, const std::string& origin) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return def;
  auto v = node->value<int64_t>();
  if (!v) return InvalidArgument(origin + ": '" + std::string(key) + "' must be an integer");
  if (*v < lo || *v > hi) {
    return InvalidArgument(origin + ": '" + std::string(key) + "' = " + std::to_string(*v) +
                           " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                           "]");
  }
  return *v;
}

Result<std::string> GetString(const toml::table& t, std::string_view key, bool required,
                              const std::string& origin) {
  const toml::node* node = t.get(key);
  if (node == nullptr) {
    if (required) return InvalidArgument(origin + ": missing required key '" + std::string(key) + "'");
    return std::string();
  }
  auto v = node->value<std::string>();
  if (!v) return InvalidArgument(origin + ": '" + std::string(key) + "' must be a string");
  return *v;
}

}  // namespace

Result<TokenConfig> ParseConfig(std::string_view text, const std::string& origin) {
  toml::table table;
  try {
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << origin << ": not valid TOML at line " << e.source().begin.line << ": " << e.description();
    return InvalidArgument(os.str());
  } catch (const std::exception& e) {
    return InvalidArgument(origin + ": cannot parse: " + e.what());
  }
  static constexpr std::string_view kKnown[] = {
      "token_dir", "platform", "platform_dir", "attestation_dir", "max_pin_failures",
      "isv_prod_id", "isv_svn", "debug"};
  for (const auto& [key, value] : table) {
    bool known = false;
    for (auto k : kKnown) known = known || key.str() == k;
    if (!known) {
      return InvalidArgument(origin + ": unknown key '" + std::string(key.str()) +
                             "' (known: token_dir, platform, platform_dir, attestation_dir, "
                             "max_pin_failures, isv_prod_id, isv_svn, debug)");
    }
  }
  TokenConfig c;
  c.path = origin;
  KMRA_ASSIGN_OR_RETURN(c.token_dir, GetString(table, "token_dir", true, origin));
  if (c.token_dir.empty() || c.token_dir[0] != '/') {
    return InvalidArgument(origin + ": 'token_dir' must be an absolute path, got '" + c.token_dir +
                           "'");
  }
  KMRA_ASSIGN_OR_RETURN(c.platform, GetString(table, "platform", true, origin));
  if (c.platform != "sim" && c.platform != "gramine") {
    return InvalidArgument(origin + ": 'platform' must be \"sim\" or \"gramine\", got \"" +
                           c.platform + "\"");
  }
  KMRA_ASSIGN_OR_RETURN(c.platform_dir, GetString(table, "platform_dir", c.platform == "sim", origin));
  KMRA_ASSIGN_OR_RETURN(auto att, GetString(table, "attestation_dir", false, origin));
  if (!att.empty()) c.attestation_dir = att;
  KMRA_ASSIGN_OR_RETURN(auto failures, GetInt(table, "max_pin_failures", 10, 1, 1000, origin));
  c.max_pin_failures = static_cast<int>(failures);
  KMRA_ASSIGN_OR_RETURN(auto prod, GetInt(table, "isv_prod_id", 0, 0, 65535, origin));
  KMRA_ASSIGN_OR_RETURN(auto svn, GetInt(table, "isv_svn", 0, 0, 65535, origin));
  c.isv_prod_id = static_cast<uint16_t>(prod);
  c.isv_svn = static_cast<uint16_t>(svn);
  if (const toml::node* d = table.get("debug")) {
    auto b = d->value<bool>();
    if (!b) return InvalidArgument(origin + ": 'debug' must be true or false");
    c.debug = *b;
  }
  return c;
}

Result<TokenConfig> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFound("token config '" + path +
                    "' cannot be read (set KMRA_TOKEN_CONF to the token's config file, or create "
                    "it with `kmra token init`)");
  }
  std::ostringstream os;
  os << in.rdbuf();
  return ParseConfig(os.str(), path);
}

}  // namespace kmra::token
