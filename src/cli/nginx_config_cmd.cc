// `kmra nginx-config`: prints (or writes) the OpenSSL and nginx configuration that serves TLS with
// a key held in a PKCS#11 token, in process or behind `p11-kit server` (isolation mode).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/secret_bytes.h"
#include "cli/commands.h"
#include "client/nginx_config.h"

namespace kmra::cli {
namespace {

constexpr char kDefaultModule[] = "/usr/lib/x86_64-linux-gnu/pkcs11/libkmra-pkcs11.so";

struct NginxConfigFlags {
  client::NginxConfigOptions options;
  std::vector<std::string> env;
  std::string out_dir;
  std::string standalone_dir;
};

Status WriteText(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return FailedPrecondition(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return FailedPrecondition(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);
  ::close(fd);
  return OkStatus();
}

Status WriteAll(const std::string& dir, const client::NginxConfig& c) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return FailedPrecondition(fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  }
  // nginx files may carry the PIN (pin-value): owner only.
  struct File {
    const char* name;
    const std::string* text;
    mode_t mode;
  };
  const File files[] = {
      {"openssl-kmra.cnf", &c.openssl_cnf, 0644},
      {"nginx-main.conf", &c.nginx_main, 0600},
      {"nginx-server.conf", &c.nginx_server, 0600},
      {"nginx.conf", &c.nginx_full, 0600},
      {"nginx-kmra.systemd.conf", &c.systemd_dropin, 0644},
      {"kmra-p11-kit.service", &c.p11kit_unit, 0644},
  };
  for (const auto& f : files) {
    if (f.text->empty()) continue;
    std::string path = dir + "/" + f.name;
    KMRA_TRY(WriteText(path, *f.text, f.mode));
    Outf("wrote %s\n", path.c_str());
  }
  if (!c.nginx_full.empty()) {
    std::string tmp = dir + "/tmp";
    if (::mkdir(tmp.c_str(), 0700) != 0 && errno != EEXIST) {
      return FailedPrecondition(fmt::format("cannot create {}: {}", tmp, std::strerror(errno)));
    }
  }
  return OkStatus();
}

int Run(NginxConfigFlags& f) {
  client::NginxConfigOptions& o = f.options;
  if (!o.pin_file.empty()) {
    // libp11 takes the whole file as the PIN, a trailing newline included.
    int fd = ::open(o.pin_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[256];
      ssize_t n = ::read(fd, buf, sizeof(buf));
      ::close(fd);
      bool newline = n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r');
      SecureWipe(buf, sizeof(buf));
      if (newline) {
        Errf(
            "kmra nginx-config: %s ends with a newline; the libp11 engine would send "
            "it as part of the PIN. Write it with: printf '%%s' \"$PIN\" > %s\n",
            o.pin_file.c_str(), o.pin_file.c_str());
        return 2;
      }
    }
  }
  o.env = {"KMRA_TOKEN_CONF"};
  for (const auto& e : f.env) o.env.push_back(e);
  std::string dir = f.out_dir;
  if (!f.standalone_dir.empty()) {
    dir = f.standalone_dir;
    o.prefix = f.standalone_dir;
    o.openssl_conf_path = f.standalone_dir + "/openssl-kmra.cnf";
  }
  auto config = client::RenderNginxConfig(o);
  if (!config) {
    Errf("kmra nginx-config: %s\n", config.error().message().c_str());
    return 2;
  }
  if (!dir.empty()) {
    auto st = WriteAll(dir, *config);
    if (!st) {
      Errf("kmra nginx-config: %s\n", st.error().message().c_str());
      return 1;
    }
    if (!f.standalone_dir.empty()) {
      Outf("start: OPENSSL_CONF=%s/openssl-kmra.cnf%s nginx -p %s -c %s/nginx.conf\n", dir.c_str(),
           o.isolation ? fmt::format(" P11_KIT_SERVER_ADDRESS=unix:path={}", o.socket).c_str() : "",
           dir.c_str(), dir.c_str());
    }
    return 0;
  }
  Outf("# ---- %s ----\n%s\n", o.openssl_conf_path.c_str(), config->openssl_cnf.c_str());
  Outf("# ---- nginx.conf, main (top-level) context ----\n%s\n", config->nginx_main.c_str());
  Outf("# ---- nginx.conf, http context ----\n%s\n", config->nginx_server.c_str());
  Outf("# ---- systemd drop-in for nginx ----\n%s", config->systemd_dropin.c_str());
  if (!config->p11kit_unit.empty()) {
    Outf("\n# ---- systemd unit for the token process ----\n%s", config->p11kit_unit.c_str());
  }
  return 0;
}

}  // namespace

void RegisterNginxConfig(CLI::App& app) {
  auto flags = std::make_shared<NginxConfigFlags>();
  flags->options.module = kDefaultModule;
  auto* cmd = app.add_subcommand(
      "nginx-config",
      "Print the OpenSSL + nginx configuration that serves TLS with a token-held key");
  auto& o = flags->options;
  cmd->add_option("--key-uri", o.key_uri, "RFC 7512 URI of the key, as `kmra loadkey` prints it")
      ->required();
  cmd->add_option("--cert", o.cert_file, "PEM certificate (chain) nginx presents")->required();
  cmd->add_option("--module", o.module, "PKCS#11 module holding the key")->capture_default_str();
  cmd->add_option("--pin-file", o.pin_file, "file with the token user PIN (preferred over --pin)");
  cmd->add_option("--pin", o.pin, "token user PIN, written into the nginx config");
  cmd->add_flag(
      "--isolation", o.isolation,
      "isolation mode: the module runs in `p11-kit server`, nginx loads p11-kit-client.so");
  cmd->add_option("--socket", o.socket, "p11-kit server socket (isolation mode)")
      ->capture_default_str();
  cmd->add_option("--listen", o.listen, "nginx listen address or port")->capture_default_str();
  cmd->add_option("--server-name", o.server_name, "nginx server_name")->capture_default_str();
  cmd->add_option("--openssl-conf", o.openssl_conf_path,
                  "where the OpenSSL config will be installed")
      ->capture_default_str();
  cmd->add_option("--env", flags->env,
                  "extra environment variable the module needs in nginx workers (repeatable)");
  cmd->add_option("--out", flags->out_dir, "write the pieces as files into this directory");
  cmd->add_option("--standalone", flags->standalone_dir,
                  "write a complete nginx.conf (pid, logs, temp files) into this directory");
  cmd->add_option("--user", o.user, "nginx worker user in --standalone mode")
      ->capture_default_str();
  cmd->add_option("--workers", o.worker_processes, "nginx worker processes in --standalone mode")
      ->capture_default_str();
  cmd->callback([flags]() { SetExitCode(Run(*flags)); });
}

}  // namespace kmra::cli
