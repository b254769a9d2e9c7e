// Renders what NGINX needs to serve TLS with a private key that stays inside a PKCS#11 token:
// the OpenSSL config that loads the libp11 engine with a module, the nginx `env` lines and server block,
// a systemd drop-in that hands OPENSSL_CONF to nginx, and (isolation mode) the `p11-kit server` unit.
//
// Facts this encodes (docs/deployment.md): the engine section needs `init = 1` because nginx never calls
// ENGINE_init; nginx clears the workers' environment, so every variable the module reads needs an `env`
// line; TLS 1.2 static-RSA key exchange fails through libp11 0.4.12 on OpenSSL 3, so only ECDHE suites.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace kmra::client {

inline constexpr char kLibp11Engine[] = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so";
inline constexpr char kP11KitClient[] = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";

struct NginxConfigOptions {
  std::string key_uri;        // RFC 7512 URI of the private key, "pkcs11:token=...;object=..."
  std::string cert_file;      // PEM certificate (chain) nginx presents
  std::string module;         // the PKCS#11 module holding the key (our libkmra-pkcs11.so)
  std::string pin_file;       // file with the user PIN (pin-source); empty: no PIN in the URI
  std::string pin;            // the user PIN inline (pin-value); used only when pin_file is empty
  bool isolation = false;     // nginx loads p11-kit-client.so; the module runs in `p11-kit server`
  std::string socket = "/run/kmra/p11-kit.sock";  // the p11-kit server socket (isolation mode)
  std::string listen = "443";                     // nginx `listen` argument (port or addr:port)
  std::string server_name = "_";
  std::string openssl_conf_path = "/etc/kmra/openssl-kmra.cnf";  // where the OpenSSL config will live
  std::vector<std::string> env;  // variables the module needs (in-process mode), e.g. KMRA_TOKEN_CONF
  std::string engine = kLibp11Engine;
  std::string p11kit_client = kP11KitClient;
  // Standalone mode: a complete nginx.conf whose pid, logs and temp files live under `prefix`.
  std::string prefix;
  std::string user = "www-data";  // worker user in standalone mode
  int worker_processes = 1;
};

struct NginxConfig {
  std::string openssl_cnf;     // the OpenSSL config (OPENSSL_CONF)
  std::string nginx_main;      // `env` lines for nginx.conf's main context
  std::string nginx_server;    // the `server { ... }` block for the http context
  std::string nginx_full;      // a complete nginx.conf (standalone mode only, else empty)
  std::string systemd_dropin;  // /etc/systemd/system/nginx.service.d/kmra.conf
  std::string p11kit_unit;     // kmra-p11-kit.service (isolation mode only, else empty)
};

// Validates the options (URI form, absolute paths, no characters that would break out of an nginx string)
// and renders the configuration. Errors are InvalidArgument and name the offending option.
Result<NginxConfig> RenderNginxConfig(const NginxConfigOptions& options);

// The value of attribute `name` in the path part of a pkcs11: URI ("token" -> "T"), percent-decoded;
// empty when absent.
std::string UriPathAttribute(const std::string& uri, const std::string& name);

}  // namespace kmra::client
