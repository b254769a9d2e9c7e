// toml++ throws toml::parse_error; this file is the one adapter that calls it.
#include "server/config.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include "base/file.h"
#include "server/internal/config_reader.h"
#include "server/json.h"
#include "server/policy.h"
#include "store/store.h"

namespace kmra::server {
namespace {

using internal::TableReader;

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

// "00906ED50000", "00906ED50000/platform", "SGX/00906ED50000", "TDX/00906ED50000/processor" ->
// "SGX/00906ED50000/processor" (the collateral component's CollateralKey form).
Result<std::string> NormalisePlatform(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = text.find('/', start);
    parts.push_back(text.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  auto upper = [](std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
  };
  std::string tee = "SGX", ca = "processor";
  std::size_t i = 0;
  if (parts.size() > 1 && (upper(parts[0]) == "SGX" || upper(parts[0]) == "TDX")) {
    tee = upper(parts[i++]);
  }
  if (i >= parts.size()) return InvalidArgument("no FMSPC");
  const std::string fmspc = upper(parts[i++]);
  if (fmspc.size() != 12 ||
      fmspc.find_first_not_of("0123456789ABCDEF") != std::string::npos) {
    return InvalidArgument("the FMSPC \"" + parts[i - 1] + "\" must be 12 hex digits");
  }
  if (i < parts.size()) {
    ca = parts[i++];
    for (char& ch : ca) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (ca != "processor" && ca != "platform") {
      return InvalidArgument("the PCK CA \"" + parts[i - 1] + "\" must be processor or platform");
    }
  }
  if (i != parts.size()) return InvalidArgument("too many parts");
  return tee + "/" + fmspc + "/" + ca;
}

Status CheckCollateralSettings(ServerConfig* c) {
  for (const auto& url : c->pccs_urls) {
    if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
      return InvalidArgument("[attestation] pccs_url \"" + url +
                             "\" must start with https:// (or http:// for a local PCCS)");
    }
    if (url.size() > 8 && url.back() == '/') {
      return InvalidArgument("[attestation] pccs_url \"" + url +
                             "\" must be a base URL without a trailing '/' (the client appends "
                             "/sgx/certification/v4/...)");
    }
  }
  if (c->pccs_api_version != 3 && c->pccs_api_version != 4) {
    return InvalidArgument("[attestation] pccs_api_version must be 3 or 4");
  }
  if (!c->pccs_api_key.empty() && !c->allow_api_key_in_config) {
    return InvalidArgument(
        "[attestation] pccs_api_key is set in clear in the config file; put it in "
        "pccs_api_key_file (0600) or the environment variable named by pccs_api_key_env, or set "
        "allow_api_key_in_config = true");
  }
  if (c->pccs_timeout_ms < 100 || c->pccs_timeout_ms > 600'000) {
    return InvalidArgument("[attestation] pccs_timeout_ms must be from 100 to 600000");
  }
  if (!c->collateral_cache.empty() && c->pccs_urls.empty()) {
    return InvalidArgument(
        "[attestation] collateral_cache is set but pccs_url is not: the cache holds what a PCCS "
        "delivers; an offline collateral_dir alone is read directly");
  }
  if (c->clock_skew < 0 || c->clock_skew > 3600) {
    return InvalidArgument("[attestation] clock_skew is " + std::to_string(c->clock_skew) +
                           "; it must be from 0 to 3600 seconds");
  }
  if (c->collateral_recheck < 1 || c->collateral_recheck > 3600) {
    return InvalidArgument("[attestation] collateral_recheck must be from 1 to 3600 seconds");
  }
  for (auto& p : c->platforms) {
    auto normal = NormalisePlatform(p);
    if (!normal) {
      return InvalidArgument("[attestation] platforms: \"" + p + "\" is not FMSPC, " +
                             "FMSPC/PCK_CA or TEE/FMSPC/PCK_CA (" + normal.error().message() +
                             "), e.g. \"00906ED50000\" or \"SGX/00906ED50000/platform\"");
    }
    p = *normal;
  }
  return OkStatus();
}

// [listen] settings of the network edge (admission control, PROXY protocol, anonymous refusals).
void ReadEdgeSettings(TableReader& r, ServerConfig* c) {
  r.Get("max_connections", &c->max_connections);
  r.Get("max_connections_per_address", &c->max_connections_per_address);
  r.Get("new_connections_per_second_per_address", &c->new_connections_per_second_per_address);
  r.Get("first_bytes_timeout_ms", &c->first_bytes_timeout_ms);
  r.Get("proxy_protocol", &c->proxy_protocol);
  r.Get("proxy_trusted_peers", &c->proxy_trusted_peers);
  r.Get("anonymous_audit_per_minute", &c->anonymous_audit_per_minute);
}

Status CheckEdgeSettings(const ServerConfig& c) {
  if (c.max_connections < 1) return InvalidArgument("[listen] max_connections must be at least 1");
  if (c.first_bytes_timeout_ms < 100 || c.first_bytes_timeout_ms > 60'000) {
    return InvalidArgument("[listen] first_bytes_timeout_ms must be from 100 to 60000");
  }
  if (c.proxy_protocol && c.proxy_trusted_peers.empty()) {
    return InvalidArgument(
        "[listen] proxy_protocol = true needs proxy_trusted_peers: the IP addresses of the load "
        "balancers allowed to send PROXY headers (anyone else could claim any address)");
  }
  if (!c.proxy_protocol && !c.proxy_trusted_peers.empty()) {
    return InvalidArgument("[listen] proxy_trusted_peers is set but proxy_protocol is not true");
  }
  for (const auto& peer : c.proxy_trusted_peers) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, peer.c_str(), buf) != 1 &&
        inet_pton(AF_INET6, peer.c_str(), buf) != 1) {
      return InvalidArgument("[listen] proxy_trusted_peers: '" + peer +
                             "' is not an IP address (one address per load balancer)");
    }
  }
  return OkStatus();
}

// Bounded so that now + lifetime + skew cannot overflow and a nonce cannot live for days.
Status CheckNonceSettings(const std::string& where, const ServerConfig& c) {
  auto bounded = [&](const char* name, std::int64_t v, std::int64_t lo, std::int64_t hi) -> Status {
    if (v < lo || v > hi) {
      return InvalidArgument(where + name + " is " + std::to_string(v) + "; it must be from " +
                             std::to_string(lo) + " to " + std::to_string(hi));
    }
    return OkStatus();
  };
  KMRA_TRY(bounded("nonce_lifetime", c.nonce_lifetime, 1, kNonceLifetimeMax));
  KMRA_TRY(bounded("nonce_clock_skew", c.nonce_clock_skew, 0, kNonceClockSkewMax));
  KMRA_TRY(bounded("nonce_max_outstanding", c.nonce_max_outstanding, 1, 1'000'000));
  KMRA_TRY(bounded("nonce_rate", c.nonce_rate, 1, 1'000'000));
  return bounded("nonce_burst", c.nonce_burst, 1, 1'000'000);
}

Status ReadConfig(const toml::table& root, const std::string& base, ServerConfig* c) {
  static const toml::table kEmpty;
  auto section = [&](const char* name) -> const toml::table& {
    const toml::table* t = root[name].as_table();
    return t ? *t : kEmpty;
  };
  for (const auto& [key, node] : root) {
    static const std::vector<std::string> kSections = {
        "server", "listen",  "tls",    "hsm", "store", "attestation",
        "clients", "policy", "log", "metrics"};
    std::string k(key.str());
    if (std::find(kSections.begin(), kSections.end(), k) == kSections.end() || !node.is_table()) {
      return InvalidArgument("unknown section '" + k +
                             "'; known: [server] [listen] [tls] [hsm] [store] [attestation] "
                             "[clients] [policy] [log] [metrics]");
    }
  }
  {
    TableReader r(section("listen"), "listen");
    r.Get("address", &c->address);
    r.Get("port", &c->port);
    r.Get("port_file", &c->port_file);
    r.Get("threads", &c->threads);
    r.Get("body_limit", &c->body_limit);
    r.Get("header_limit", &c->header_limit);
    r.Get("handshake_timeout_ms", &c->handshake_timeout_ms);
    r.Get("request_timeout_ms", &c->request_timeout_ms);
    ReadEdgeSettings(r, c);
    KMRA_TRY(r.Finish());
    KMRA_TRY(CheckEdgeSettings(*c));
  }
  {
    TableReader r(section("tls"), "tls");
    r.Get("certificate", &c->tls_cert);
    r.Get("key", &c->tls_key);
    r.Get("client_ca", &c->client_ca);
    r.Get("admin_clients", &c->admin_clients);
    KMRA_TRY(r.Finish());
  }
  {
    TableReader r(section("hsm"), "hsm");
    r.Get("module", &c->hsm_module);
    r.Get("token_label", &c->hsm_token_label);
    r.Get("pin_file", &c->hsm_pin_file);
    r.Get("pin_env", &c->hsm_pin_env);
    r.Get("pin", &c->hsm_pin);
    r.Get("allow_pin_in_config", &c->allow_pin_in_config);
    r.Get("softhsm2_conf", &c->softhsm2_conf);
    KMRA_TRY(r.Finish());
    if (!c->hsm_pin.empty() && !c->allow_pin_in_config) {
      return InvalidArgument(
          "[hsm] pin is set in clear in the config file; put it in pin_file (0600) or the "
          "environment variable named by pin_env, or set allow_pin_in_config = true");
    }
  }
  KMRA_TRY(internal::ReadServerSettings(section("server"), c));
  KMRA_TRY(internal::ReadStoreSettings(section("store"), c));
  {
    TableReader r(section("attestation"), "attestation");
    r.Get("trusted_root", &c->trusted_root);
    r.Get("trust_simulated_root", &c->trust_simulated_root);
    r.Get("collateral_dir", &c->collateral_dir);
    if (section("attestation")["pccs_url"].is_array()) {
      r.Get("pccs_url", &c->pccs_urls);
    } else {
      std::string url;
      r.Get("pccs_url", &url);
      c->pccs_urls.clear();
      if (!url.empty()) c->pccs_urls.push_back(url);
    }
    r.Get("pccs_api_version", &c->pccs_api_version);
    r.Get("pccs_api_key_file", &c->pccs_api_key_file);
    r.Get("pccs_api_key_env", &c->pccs_api_key_env);
    r.Get("pccs_api_key", &c->pccs_api_key);
    r.Get("allow_api_key_in_config", &c->allow_api_key_in_config);
    r.Get("pccs_ca_file", &c->pccs_ca_file);
    r.Get("pccs_verify_tls", &c->pccs_verify_tls);
    r.Get("pccs_timeout_ms", &c->pccs_timeout_ms);
    r.Get("collateral_cache", &c->collateral_cache);
    r.Get("collateral_refresh_ahead", &c->collateral_refresh_ahead);
    r.Get("collateral_max_age", &c->collateral_max_age);
    r.Get("collateral_recheck", &c->collateral_recheck);
    r.Get("clock_skew", &c->clock_skew);
    r.Get("platforms", &c->platforms);
    r.Get("nonce_lifetime", &c->nonce_lifetime);
    r.Get("nonce_clock_skew", &c->nonce_clock_skew);
    r.Get("nonce_max_outstanding", &c->nonce_max_outstanding);
    r.Get("nonce_rate", &c->nonce_rate);
    r.Get("nonce_burst", &c->nonce_burst);
    KMRA_TRY(r.Finish());
    KMRA_TRY(CheckCollateralSettings(c));
    KMRA_TRY(CheckNonceSettings("[attestation] ", *c));
  }
  {
    TableReader r(section("clients"), "clients");
    r.Get("allowed", &c->clients);
    KMRA_TRY(r.Finish());
  }
  {
    TableReader r(section("policy"), "policy");
    r.Get("default", &c->default_policy_json);
    KMRA_TRY(r.Finish());
    if (!c->default_policy_json.empty()) {
      auto policy = ParsePolicy(c->default_policy_json);
      if (!policy) return InvalidArgument("[policy] default: " + policy.error().message());
    }
  }
  {
    TableReader r(section("log"), "log");
    r.Get("level", &c->log_level);
    r.Get("format", &c->log_format);
    r.Get("file", &c->log_file);
    KMRA_TRY(r.Finish());
  }
  {
    TableReader r(section("metrics"), "metrics");
    r.Get("enabled", &c->metrics);
    KMRA_TRY(r.Finish());
  }
  for (std::string* p : {&c->port_file, &c->tls_cert, &c->tls_key, &c->client_ca, &c->hsm_pin_file,
                         &c->softhsm2_conf, &c->store_path, &c->store_password_file, &c->trusted_root, &c->collateral_dir,
                         &c->collateral_cache, &c->pccs_api_key_file, &c->pccs_ca_file,
                         &c->log_file}) {
    *p = Resolve(base, *p);
  }
  if (c->threads < 1 || c->threads > 256) {
    return InvalidArgument("[listen] threads must be from 1 to 256");
  }
  return OkStatus();
}

}  // namespace

Result<ServerConfig> ParseServerConfig(const std::string& toml_text, const std::string& base_dir) {
  ServerConfig config;
  try {
    toml::table root = toml::parse(toml_text);
    KMRA_TRY(ReadConfig(root, base_dir, &config));
  } catch (const toml::parse_error& e) {
    return InvalidArgument("TOML syntax error at line " +
                           std::to_string(e.source().begin.line) + ", column " +
                           std::to_string(e.source().begin.column) + ": " +
                           std::string(e.description()));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("config: ") + e.what());
  }
  return config;
}

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  auto text = ReadFileText(path, 1 << 20);
  if (!text) return tl::unexpected(text.error().WithContext("config file " + path));
  std::string base = std::filesystem::path(path).parent_path().string();
  auto config = ParseServerConfig(*text, base.empty() ? "." : base);
  if (!config) return tl::unexpected(config.error().WithContext(path));
  if (auto modes = CheckSecretFileModes(*config); !modes) {
    return tl::unexpected(modes.error().WithContext(path));
  }
  return config;
}

Status CheckSecretFileModes(const ServerConfig& c) {
  const std::pair<const char*, const std::string*> secrets[] = {
      {"[hsm] pin_file", &c.hsm_pin_file},
      {"[tls] key", &c.tls_key},
      {"[attestation] pccs_api_key_file", &c.pccs_api_key_file},
      {"[store] password_file", &c.store_password_file}};
  for (const auto& [setting, file] : secrets) {
    struct stat st {};
    // A missing file is reported by whoever reads it, with its own message.
    if (file->empty() || ::stat(file->c_str(), &st) != 0) continue;
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      // At most 4 octal digits (the mask): cannot truncate.
      (void)std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return FailedPrecondition(std::string(setting) + " " + *file + " has mode " + mode +
                                ": a secret must be readable by its owner only; run chmod 600 " +
                                *file);
    }
  }
  return OkStatus();
}

Status MergeApphsmConfText(const std::string& json_text, const std::string& base_dir,
                           ServerConfig* config) {
  KMRA_ASSIGN_OR_RETURN(Json j, ParseJsonObject(json_text, 1 << 20, 8));
  if (j.contains("port")) {
    KMRA_ASSIGN_OR_RETURN(auto port, GetInt(j, "port"));
    if (port < 0 || port > 65535) return InvalidArgument("'port' must be from 0 to 65535");
    config->port = static_cast<std::uint16_t>(port);
  }
  if (j.contains("ip")) {
    KMRA_ASSIGN_OR_RETURN(config->address, GetString(j, "ip"));
  }
  if (j.contains("nonce_lifetime")) {
    KMRA_ASSIGN_OR_RETURN(config->nonce_lifetime, GetInt(j, "nonce_lifetime"));
    KMRA_TRY(CheckNonceSettings("apphsm.conf ", *config));
  }
  if (j.contains("clients")) {
    if (!j["clients"].is_array()) return InvalidArgument("'clients' must be a list");
    for (const auto& client : j["clients"]) {
      if (!client.is_object()) return InvalidArgument("each of 'clients' must be an object");
      KMRA_ASSIGN_OR_RETURN(auto id, GetString(client, "id"));
      KMRA_ASSIGN_OR_RETURN(auto permission, GetOptionalString(client, "permission", "allowed"));
      if (permission == "allowed" || permission == "allow") {
        config->clients.push_back(id);
      } else if (permission != "denied" && permission != "deny") {
        // NOLINTNEXTLINE(performance-inefficient-string-concatenation): runs once (returns)
        return InvalidArgument("client '" + id + "': permission '" + permission +
                               "' is neither \"allowed\" nor \"denied\"");
      }
    }
  }
  if (j.contains("keys")) {
    if (!j["keys"].is_array()) return InvalidArgument("'keys' must be a list");
    for (const auto& key : j["keys"]) {
      if (!key.is_object()) return InvalidArgument("each of 'keys' must be an object");
      StaticKey k;
      KMRA_ASSIGN_OR_RETURN(k.id, GetString(key, "id"));
      if (auto valid = store::ValidateKeyId(k.id); !valid) {
        return InvalidArgument("key id '" + k.id + "': " + valid.error().message());
      }
      KMRA_ASSIGN_OR_RETURN(k.token_label, GetOptionalString(key, "token_name"));
      KMRA_ASSIGN_OR_RETURN(k.pin, GetOptionalString(key, "pin"));
      KMRA_ASSIGN_OR_RETURN(k.key_label, GetString(key, "key_name"));
      KMRA_ASSIGN_OR_RETURN(k.certificate_file, GetOptionalString(key, "certificate_file"));
      k.certificate_file = Resolve(base_dir, k.certificate_file);
      config->static_keys.push_back(std::move(k));
    }
  }
  return OkStatus();
}

Status MergeApphsmConf(const std::string& path, ServerConfig* config) {
  auto text = ReadFileText(path, 1 << 20);
  if (!text) return tl::unexpected(text.error().WithContext("apphsm.conf " + path));
  std::string base = std::filesystem::path(path).parent_path().string();
  auto status = MergeApphsmConfText(*text, base.empty() ? "." : base, config);
  if (!status) return tl::unexpected(status.error().WithContext(path));
  return OkStatus();
}

}  // namespace kmra::server
