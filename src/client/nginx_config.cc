#include "client/nginx_config.h"

#include <fmt/format.h>

#include <cctype>
#include <string_view>

namespace kmra::client {
namespace {

// Characters that would end an nginx quoted string or a config line, or start a variable.
bool SafeForNginx(std::string_view s) {
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '$' || c == '{' || c == '}' ||
        c == '\0') {
      return false;
    }
  }
  return true;
}

Status CheckValue(std::string_view option, std::string_view value, bool absolute_path) {
  if (value.empty()) return InvalidArgument(fmt::format("{} is required", option));
  if (!SafeForNginx(value) || value.find('#') != std::string_view::npos) {
    return InvalidArgument(fmt::format(
        "{} contains a character nginx or OpenSSL would misread (quote, backslash, newline, $, braces "
        "or #): {}", option, value));
  }
  if (absolute_path && value.front() != '/') {
    return InvalidArgument(fmt::format("{} must be an absolute path (nginx and the engine run from "
                                       "another directory), got {}", option, value));
  }
  return OkStatus();
}

Status CheckEnvName(std::string_view name) {
  if (name.empty()) return InvalidArgument("--env needs a variable name");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return InvalidArgument(fmt::format("--env {}: a variable name is letters, digits and '_'", name));
    }
  }
  return OkStatus();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The key reference nginx passes to the engine: the URI plus the PIN as a query attribute (RFC 7512
// section 2.3: pin-source / pin-value).
std::string EngineKeyRef(const NginxConfigOptions& o) {
  std::string uri = o.key_uri;
  if (uri.find("type=") == std::string::npos) uri += ";type=private";
  const char* sep = uri.find('?') == std::string::npos ? "?" : "&";
  if (!o.pin_file.empty()) {
    uri += fmt::format("{}pin-source=file:{}", sep, o.pin_file);
  } else if (!o.pin.empty()) {
    uri += fmt::format("{}pin-value={}", sep, o.pin);
  }
  return "engine:pkcs11:" + uri;
}

}  // namespace

std::string UriPathAttribute(const std::string& uri, const std::string& name) {
  std::string_view v(uri);
  if (v.substr(0, 7) != "pkcs11:") return "";
  v.remove_prefix(7);
  v = v.substr(0, v.find('?'));
  while (!v.empty()) {
    size_t end = v.find(';');
    std::string_view attr = v.substr(0, end);
    size_t eq = attr.find('=');
    if (eq != std::string_view::npos && attr.substr(0, eq) == name) {
      return PercentDecode(attr.substr(eq + 1));
    }
    if (end == std::string_view::npos) break;
    v.remove_prefix(end + 1);
  }
  return "";
}

Result<NginxConfig> RenderNginxConfig(const NginxConfigOptions& o) {
  KMRA_TRY(CheckValue("--key-uri", o.key_uri, false));
  if (o.key_uri.rfind("pkcs11:", 0) != 0) {
    return InvalidArgument(fmt::format(
        "--key-uri must be an RFC 7512 PKCS#11 URI starting with 'pkcs11:' (as `kmra loadkey` prints), "
        "got {}", o.key_uri));
  }
  if (UriPathAttribute(o.key_uri, "token").empty() || (UriPathAttribute(o.key_uri, "object").empty() &&
                                                       UriPathAttribute(o.key_uri, "id").empty())) {
    return InvalidArgument(fmt::format("--key-uri must name the token and the object (or id): "
                                       "pkcs11:token=T;object=K, got {}", o.key_uri));
  }
  KMRA_TRY(CheckValue("--cert", o.cert_file, true));
  KMRA_TRY(CheckValue("--module", o.module, true));
  KMRA_TRY(CheckValue("--openssl-conf", o.openssl_conf_path, true));
  KMRA_TRY(CheckValue("--listen", o.listen, false));
  KMRA_TRY(CheckValue("--server-name", o.server_name, false));
  if (!o.pin_file.empty()) KMRA_TRY(CheckValue("--pin-file", o.pin_file, true));
  if (!o.pin.empty() && (!SafeForNginx(o.pin) || o.pin.find_first_of(";&?%# ") != std::string::npos)) {
    return InvalidArgument("--pin contains characters that cannot go into a URI unescaped; "
                           "use --pin-file instead");
  }
  if (o.isolation) KMRA_TRY(CheckValue("--socket", o.socket, true));
  if (!o.prefix.empty()) {
    KMRA_TRY(CheckValue("--standalone", o.prefix, true));
    KMRA_TRY(CheckValue("--user", o.user, false));
  }
  for (const auto& e : o.env) KMRA_TRY(CheckEnvName(e));

  NginxConfig c;
  const std::string& engine_module = o.isolation ? o.p11kit_client : o.module;
  c.openssl_cnf = fmt::format(
      "# OpenSSL config for nginx: loads the libp11 engine with the PKCS#11 module that holds the key.\n"
      "# `init = 1` is required: nginx never calls ENGINE_init itself.\n"
      "openssl_conf = openssl_init\n\n"
      "[openssl_init]\nengines = engine_section\n\n"
      "[engine_section]\npkcs11 = pkcs11_section\n\n"
      "[pkcs11_section]\nengine_id = pkcs11\ndynamic_path = {}\nMODULE_PATH = {}\ninit = 1\n",
      o.engine, engine_module);

  std::vector<std::string> env{"OPENSSL_CONF"};
  if (o.isolation) {
    env.push_back("P11_KIT_SERVER_ADDRESS");
  } else {
    for (const auto& e : o.env) env.push_back(e);
  }
  c.nginx_main = "# nginx clears the workers' environment: keep what the engine and module read.\n";
  for (const auto& e : env) c.nginx_main += fmt::format("env {};\n", e);

  c.nginx_server = fmt::format(
      "server {{\n"
      "    listen {} ssl;\n"
      "    server_name {};\n"
      "    ssl_certificate {};\n"
      "    # The private key never leaves the token: every handshake signs inside it.\n"
      "    ssl_certificate_key \"{}\";\n"
      "    ssl_protocols TLSv1.2 TLSv1.3;\n"
      "    # ECDHE only: TLS 1.2 static-RSA key exchange fails through libp11 0.4.12 on OpenSSL 3.\n"
      "    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;\n"
      "    location / {{\n"
      "        return 200 \"served by nginx with a key held in the OpenKMRA token\\n\";\n"
      "    }}\n"
      "}}\n",
      o.listen, o.server_name, o.cert_file, EngineKeyRef(o));

  std::string extra_env;
  if (o.isolation) {
    extra_env = fmt::format("Environment=P11_KIT_SERVER_ADDRESS=unix:path={}\n", o.socket);
  }
  c.systemd_dropin = fmt::format(
      "# /etc/systemd/system/nginx.service.d/kmra.conf\n"
      "[Service]\nEnvironment=OPENSSL_CONF={}\n{}",
      o.openssl_conf_path, extra_env);
  if (o.isolation) {
    std::string token = UriPathAttribute(o.key_uri, "token");
    c.p11kit_unit = fmt::format(
        "# /etc/systemd/system/kmra-p11-kit.service: the token runs here, outside nginx's memory.\n"
        "[Unit]\nDescription=OpenKMRA token served to nginx through p11-kit\nBefore=nginx.service\n\n"
        "[Service]\n"
        "# The token's own configuration (token_dir, platform); readable by the token process only.\n"
        "Environment=KMRA_TOKEN_CONF=/etc/kmra/token.toml\n"
        "ExecStart=/usr/bin/p11-kit server --foreground --name {} --user www-data --provider {} "
        "\"pkcs11:token={}\"\n"
        "Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n",
        o.socket, o.module, token);
  }
  if (!o.prefix.empty()) {
    std::string events_env;
    for (const auto& e : env) events_env += fmt::format("env {};\n", e);
    c.nginx_full = fmt::format(
        "# Standalone nginx.conf rendered by `kmra nginx-config`; run: nginx -p {0} -c {0}/nginx.conf\n"
        "daemon off;\nmaster_process on;\nworker_processes {1};\nuser {2};\n"
        "pid {0}/nginx.pid;\nerror_log {0}/error.log info;\n{3}"
        "events {{ worker_connections 1024; }}\n"
        "http {{\n"
        "    access_log {0}/access.log;\n"
        "    client_body_temp_path {0}/tmp;\n    proxy_temp_path {0}/tmp;\n"
        "    fastcgi_temp_path {0}/tmp;\n    uwsgi_temp_path {0}/tmp;\n    scgi_temp_path {0}/tmp;\n"
        "    ssl_session_cache off;\n"
        "{4}"
        "}}\n",
        o.prefix, o.worker_processes, o.user, events_env, c.nginx_server);
  }
  return c;
}

}  // namespace kmra::client
