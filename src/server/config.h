// kmra server configuration: a TOML file (deploy/kmra-server.toml documents every setting), optionally
// merged with a KMRA apphsm.conf (JSON) for drop-in compatibility. Relative paths are resolved against
// the directory of the file that names them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace kmra::server {

// A key served from a KMRA apphsm.conf: it already exists in the HSM token under `key_label`.
struct StaticKey {
  std::string id;                 // h_unique_id
  std::string token_label;        // KMRA "token_name"
  std::string pin;                // KMRA keeps the token PIN here; we honour it for that token only
  std::string key_label;          // KMRA "key_name": CKA_LABEL of the private key
  std::string certificate_file;   // PEM certificate (chain)
};

struct ServerConfig {
  // [listen]
  std::string address = "127.0.0.1";
  std::uint16_t port = 8443;
  std::string port_file;  // when set, the bound port is written there (for port = 0)
  int threads = 2;
  std::size_t body_limit = 1 << 20;
  std::size_t header_limit = 16 << 10;
  int handshake_timeout_ms = 10'000;
  int request_timeout_ms = 30'000;

  // [listen] the network edge: admission control, PROXY protocol, anonymous refusals
  // (docs/server.md "Network edge").
  std::size_t max_connections = 4096;
  std::size_t max_connections_per_address = 256;             // 0: no cap
  std::size_t new_connections_per_second_per_address = 200;  // 0: no cap
  int first_bytes_timeout_ms = 2'000;
  bool proxy_protocol = false;                   // read PROXY v2 headers from proxy_trusted_peers
  std::vector<std::string> proxy_trusted_peers;  // IP addresses of the load balancers
  std::size_t anonymous_audit_per_minute = 10;   // audit records of refusals per source address

  // [tls]
  std::string tls_cert;       // server certificate chain (PEM)
  std::string tls_key;        // its private key (PEM, 0600)
  std::string client_ca;      // CA(s) that issue client certificates (PEM)
  std::vector<std::string> admin_clients = {"kmra_admin"};  // OUs allowed on the admin API

  // [hsm]
  std::string hsm_module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string hsm_token_label = "kmra";
  std::string hsm_pin_file;               // the PIN is read from this file ...
  std::string hsm_pin_env = "KMRA_HSM_PIN";  // ... or from this environment variable
  std::string hsm_pin;                    // in clear only via apphsm.conf or allow_pin_in_config
  bool allow_pin_in_config = false;
  std::string softhsm2_conf;              // sets SOFTHSM2_CONF for the module when not empty

  // [server]
  std::string replica;  // this replica's name in audit records and /readyz; "": the host name

  // [store] (docs/store.md "In the key server"): SQLite at store_path (the default), or PostgreSQL
  // at store_url (a libpq connection string or URI); setting both in the file is an error.
  std::string store_path = "kmra-state.db";
  std::string store_url;
  std::string store_password_file;           // PostgreSQL password (one line, 0600) ...
  bool store_allow_password_in_url = false;  // ... never inside store_url unless this is true
  int store_pool_size = 4;                   // connections for requests (1 to 64)
  int store_audit_pool_size = 1;             // separate connections for audit verify/queries

  // [attestation]
  std::string trusted_root;               // PEM; empty: Intel SGX Root CA (compiled in)
  bool trust_simulated_root = false;      // must be true to accept a non-Intel root, loudly
  // Collateral sources (docs/collateral.md "In the key server"): the chain is
  // cache(fallback(PCCS, offline dir)) when pccs_url is set, the offline dir alone otherwise.
  std::string collateral_dir;             // offline collateral: DIR/<fmspc>/ or a flat bundle dir
  std::vector<std::string> pccs_urls;     // pccs_url: a PCCS/PCS base URL, or a list tried in order
  int pccs_api_version = 4;               // 3 or 4
  std::string pccs_api_key_file;          // Intel PCS subscription key, read from this file ...
  std::string pccs_api_key_env = "KMRA_PCS_API_KEY";  // ... or this environment variable
  std::string pccs_api_key;               // in clear only with allow_api_key_in_config
  bool allow_api_key_in_config = false;
  std::string pccs_ca_file;               // PEM bundle for the PCCS's TLS certificate; "": system
  bool pccs_verify_tls = true;            // false only for a lab PCCS (logged loudly)
  std::int64_t pccs_timeout_ms = 10'000;  // per request
  std::string collateral_cache;           // "": the state store ([store] path); else a SQLite file
  std::int64_t collateral_refresh_ahead = std::int64_t{24} * 3600;  // refresh before nextUpdate
  std::int64_t collateral_max_age = 0;    // refuse collateral fetched longer ago; 0: no limit
  // Seconds a collateral document's start (TCB info and QE identity issueDate, CRL thisUpdate) may
  // lie after the verification time: the allowance for a server clock behind Intel's (0 to 3600).
  std::int64_t clock_skew = 0;
  std::int64_t collateral_recheck = 60;   // seconds the in-memory copy is used without asking
  std::vector<std::string> platforms;     // known platforms, normalised "SGX/<FMSPC>/<pck ca>"
  std::string platform_id;                // reserved
  std::int64_t nonce_lifetime = 300;      // seconds, KMRA nonce_lifetime (kNonceLifetimeMax)
  std::int64_t nonce_clock_skew = 30;     // seconds a KMRA client nonce may lie in the future
  // POST /v1/nonce, per client identity: nonces issued and not yet used or expired, and a token
  // bucket (nonce_rate per second, bursts of nonce_burst). Beyond either: 429 with Retry-After.
  std::int64_t nonce_max_outstanding = 256;
  std::int64_t nonce_rate = 50;
  std::int64_t nonce_burst = 100;

  // [clients] (and apphsm.conf clients): identities allowed to release keys whose policy names none.
  std::vector<std::string> clients;
  // [policy] default: the policy of keys that have none (apphsm.conf keys, which KMRA registers
  // without an enclave policy). Checked at load (it must name the enclave); empty: such keys are
  // never released (policy.missing).
  std::string default_policy_json;

  // apphsm.conf keys
  std::vector<StaticKey> static_keys;

  // [log]
  std::string log_level = "info";
  std::string log_format = "text";
  std::string log_file;

  // [metrics]
  bool metrics = true;
};

// The default [server] replica: the host name (its first label when longer than 64 characters).
std::string DefaultReplicaName();

// Bounds of the nonce settings, the same for the TOML file and apphsm.conf.
inline constexpr std::int64_t kNonceLifetimeMax = std::int64_t{24} * 3600;
inline constexpr std::int64_t kNonceClockSkewMax = 3600;

// Parses a TOML config file. Errors name the file, the setting and what was expected. Secret files
// named by the config (PIN file, TLS key, PCS API key file, store password file) that exist must not
// be readable by group or others (FailedPrecondition naming the mode and the chmod).
Result<ServerConfig> LoadServerConfig(const std::string& path);

// The check of secret file modes LoadServerConfig makes (also for configs built another way).
Status CheckSecretFileModes(const ServerConfig& config);
// Parses TOML text; `base_dir` resolves relative paths.
Result<ServerConfig> ParseServerConfig(const std::string& toml_text, const std::string& base_dir);

// Merges a KMRA apphsm.conf (JSON: port, ip, nonce_lifetime, clients[{id,permission}],
// keys[{id,token_name,pin,key_name,certificate_file}]) into `config`.
Status MergeApphsmConf(const std::string& path, ServerConfig* config);
Status MergeApphsmConfText(const std::string& json_text, const std::string& base_dir,
                           ServerConfig* config);

}  // namespace kmra::server
