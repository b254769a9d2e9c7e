// `kmra loadkey`: release a key from the key server into the enclave token (flags of Intel's
// ctk_loadkey: -t TOKEN -p PIN -u KEY_ID -H HOST -P PORT), then print its RFC 7512 URI on stdout.
#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/file.h"
#include "cli/commands.h"
#include "client/loadkey.h"

namespace kmra::cli {
namespace {

struct LoadKeyFlags {
  std::string config, module, token, pin, pin_file, key_id, host, api, server;
  int port = 0;
  std::string ca, cert, key, cert_out;
  bool force = false;
  bool quiet = false;
};

// The module: --module, config, $KMRA_TOKEN_MODULE, beside the kmra binary, the installed path.
std::string DefaultModule() {
  if (const char* env = std::getenv("KMRA_TOKEN_MODULE"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (const char* rel : {"../token/libkmra-pkcs11.so", "../lib/pkcs11/libkmra-pkcs11.so",
                          "../lib/libkmra-pkcs11.so"}) {
    auto p = exe / rel;
    if (std::filesystem::exists(p, ec)) return std::filesystem::weakly_canonical(p, ec).string();
  }
  return "/usr/lib/x86_64-linux-gnu/pkcs11/libkmra-pkcs11.so";
}

// Fills flags the command line left empty from the TOML file (keys named like the long flags).
Status ApplyConfig(const std::string& path, LoadKeyFlags& f) {
  KMRA_ASSIGN_OR_RETURN(std::string text, ReadFileText(path, 1 << 20));
  toml::table t;
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(
        fmt::format("{}: line {}: {}", path, e.source().begin.line, std::string(e.description())));
  } catch (const std::exception& e) {
    return InvalidArgument(fmt::format("{}: {}", path, e.what()));
  }
  const toml::table* s = t["loadkey"].as_table();
  if (s == nullptr) s = &t;
  auto str = [&](const char* key, std::string& out) -> Status {
    auto node = (*s)[key];
    if (!node) return OkStatus();
    auto v = node.value<std::string>();
    if (!v) return InvalidArgument(fmt::format("{}: '{}' must be a string", path, key));
    if (out.empty()) out = *v;
    return OkStatus();
  };
  for (const auto& [key, out] : {std::pair<const char*, std::string*>{"module", &f.module},
                                 {"token", &f.token},
                                 {"pin", &f.pin},
                                 {"pin_file", &f.pin_file},
                                 {"key_id", &f.key_id},
                                 {"host", &f.host},
                                 {"api", &f.api},
                                 {"ca", &f.ca},
                                 {"cert", &f.cert},
                                 {"key", &f.key}}) {
    KMRA_TRY(str(key, *out));
  }
  if (auto node = (*s)["port"]; node) {
    auto v = node.value<int64_t>();
    if (!v || *v <= 0 || *v > 65535) return InvalidArgument(path + ": 'port' must be 1..65535");
    if (f.port == 0) f.port = static_cast<int>(*v);
  }
  for (const auto& [key, value] : *s) {
    static const char* known[] = {"module", "token", "pin",  "pin_file", "key_id", "host",
                                  "api",    "ca",    "cert", "key",      "port"};
    bool ok = false;
    for (const char* k : known) ok = ok || key.str() == k;
    if (!ok) return InvalidArgument(fmt::format("{}: unknown setting '{}'", path, key.str()));
  }
  return OkStatus();
}

// --server https://HOST:PORT, the form `kmra server --dev` prints; sets -H and -P.
Status ApplyServerUrl(LoadKeyFlags& f) {
  std::string rest = f.server;
  if (rest.rfind("https://", 0) != 0) {
    return InvalidArgument("--server must be https://HOST[:PORT], got '" + f.server + "'");
  }
  rest = rest.substr(8);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
    char* end = nullptr;
    long port = std::strtol(rest.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) {
      return InvalidArgument("--server '" + f.server + "': the port must be 1..65535");
    }
    if (f.port == 0) f.port = static_cast<int>(port);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return InvalidArgument("--server '" + f.server + "' names no host");
  if (f.host.empty()) f.host = rest;
  return OkStatus();
}

Result<client::LoadKeyOptions> BuildOptions(LoadKeyFlags& f) {
  if (!f.server.empty()) KMRA_TRY(ApplyServerUrl(f));
  if (!f.config.empty()) KMRA_TRY(ApplyConfig(f.config, f));
  client::LoadKeyOptions o;
  o.module = f.module.empty() ? DefaultModule() : f.module;
  o.token_label = f.token;
  o.key_id = f.key_id;
  o.host = f.host;
  o.port = f.port == 0 ? 8443 : f.port;
  KMRA_ASSIGN_OR_RETURN(o.api, client::ParseApi(f.api.empty() ? "kmra" : f.api));
  o.tls = {f.ca, f.cert, f.key};
  o.force = f.force;
  if (!f.pin_file.empty()) {
    KMRA_ASSIGN_OR_RETURN(SecretBytes pin, ReadFileSecret(f.pin_file, 4096));
    size_t n = pin.size();
    while (n > 0 && (pin.Reveal()[n - 1] == '\n' || pin.Reveal()[n - 1] == '\r')) --n;
    pin.resize(n);
    o.pin = std::move(pin);
  } else if (!f.pin.empty()) {
    o.pin = SecretBytes::FromString(f.pin);
  } else if (const char* env = std::getenv("KMRA_TOKEN_PIN"); env != nullptr) {
    o.pin = SecretBytes::FromString(env);
  }
  SecureWipe(f.pin.data(), f.pin.size());
  return o;
}

int Run(LoadKeyFlags& f) {
  auto options = BuildOptions(f);
  if (!options) {
    Errf("kmra loadkey: %s\n", options.error().message().c_str());
    return 2;
  }
  auto result = client::LoadKey(*options, SystemClock::Get());
  if (!result) {
    Errf("kmra loadkey: %s\n", result.error().message().c_str());
    return 1;
  }
  if (!f.cert_out.empty()) {
    if (auto st = WriteFileAtomic(f.cert_out, result->certificate_pem, 0644); !st) {
      Errf("kmra loadkey: the key is loaded, but writing the certificate failed: %s\n",
           st.error().message().c_str());
      return 1;
    }
  }
  if (!f.quiet) {
    std::string what = !result->changed   ? "already in the token (same version), nothing changed; "
                                            "--force reloads it"
                       : result->replaced ? "replaced the previous version in the token"
                                          : "loaded into the token";
    std::string version = result->version > 0 ? fmt::format(" version {}", result->version) : "";
    Errf("key '%s'%s (%s, %s): %s\n", options->key_id.c_str(), version.c_str(),
         result->algorithm.c_str(), result->subject.c_str(), what.c_str());
  }
  Outf("%s\n", result->uri.c_str());
  return 0;
}

}  // namespace

void RegisterLoadkey(CLI::App& app) {
  auto f = std::make_shared<LoadKeyFlags>();
  auto* cmd = app.add_subcommand(
      "loadkey",
      "Release a key from the key server into the enclave token (after attestation) and "
      "print its PKCS#11 URI");
  cmd->add_option("-t,--token", f->token, "label of the token to load the key into");
  cmd->add_option("-p,--pin", f->pin, "token user PIN (or --pin-file, or $KMRA_TOKEN_PIN)");
  cmd->add_option("--pin-file", f->pin_file, "file holding the token user PIN");
  cmd->add_option("-u,--key-id", f->key_id, "id of the key on the key server");
  cmd->add_option("-H,--host", f->host, "key server host name (as in its certificate)");
  cmd->add_option("-P,--port", f->port, "key server port (default 8443)");
  cmd->add_option("--server", f->server, "key server URL https://HOST:PORT (instead of -H/-P)");
  cmd->add_option("--api", f->api, "release API: kmra (AppHSM API 0.2, default) or v1");
  cmd->add_option("--ca", f->ca, "CA certificate(s) that sign the key server's certificate (PEM)");
  cmd->add_option("--cert", f->cert, "client certificate for mutual TLS (PEM)");
  cmd->add_option("--key", f->key, "private key of the client certificate (PEM)");
  cmd->add_option("--module", f->module, "token PKCS#11 module (default: libkmra-pkcs11.so)");
  cmd->add_option("--config", f->config, "TOML file with the same settings (flags win)");
  cmd->add_option("--cert-out", f->cert_out,
                  "write the released certificate chain (PEM) here, for nginx's ssl_certificate");
  cmd->add_flag("--force", f->force, "reload even when the token holds the same key version");
  cmd->add_flag("-q,--quiet", f->quiet, "print only the URI");
  cmd->callback([f]() { SetExitCode(Run(*f)); });
}

}  // namespace kmra::cli
