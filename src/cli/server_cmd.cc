// `kmra server --config FILE [--apphsm-conf FILE]` and `kmra server --dev --dir DIR [--listen
// ADDR]`.
//
// --dev is the one-flag way in (like `vault server -dev`): it makes DIR a complete development
// deployment on first use (the PKI of `kmra pki init`, a SoftHSM2 token with its own SOFTHSM2_CONF,
// a SQLite store, a config file, a demo key generated in the HSM with a CA-signed certificate),
// trusts the simulated SGX root (loudly), and prints how to connect.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "base/clock.h"
#include "base/file.h"
#include "base/hex.h"
#include "base/log.h"
#include "cli/commands.h"
#include "crypto/random.h"
#include "enclave/factory.h"
#include "enclave/pki/pki_init.h"
#include "enclave/pki/tls_pki.h"
#include "p11/csr.h"
#include "p11/keys.h"
#include "p11/session_pool.h"
#include "server/config.h"
#include "server/json.h"
#include "server/run.h"
#include "server/server_check.h"
#include "server/server_store.h"
#include "store/store.h"

namespace kmra::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kDevToken[] = "kmra";
constexpr char kDevKey[] = "demo";

struct ServerArgs {
  std::string config;
  std::string apphsm_conf;
  bool dev = false;
  std::string dir;
  std::string listen;
  std::string port_file;
  std::string token_module;
  bool check_config = false;
};

Status RunCommandLine(const std::vector<std::string>& argv, const std::string& softhsm2_conf) {
  pid_t pid = fork();
  if (pid < 0) return Internal("fork failed");
  if (pid == 0) {
    setenv("SOFTHSM2_CONF", softhsm2_conf.c_str(), 1);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Unavailable(argv[0] + " failed (exit " + std::to_string(WEXITSTATUS(status)) +
                       "); is the softhsm2 package installed?");
  }
  return OkStatus();
}

std::string RandomPin() {
  auto bytes = crypto::RandomBytes(12);
  return bytes ? HexEncode(*bytes) : std::string("kmra-dev-pin");
}

// Writes DIR/kmra-server.toml for the dev deployment.
std::string DevConfigText(const std::string& listen_address) {
  return "# Written by `kmra server --dev`: a development key server. NOT FOR PRODUCTION: it "
         "trusts\n"
         "# the simulated SGX root, so released keys are not protected by real SGX hardware.\n"
         "[listen]\naddress = \"" +
         listen_address +
         "\"\nport = 8443\nport_file = \"server.port\"\n\n"
         "[tls]\ncertificate = \"tls/server.pem\"\nkey = \"tls/server.key\"\n"
         "client_ca = \"tls/ca.pem\"\nadmin_clients = [\"kmra_admin\"]\n\n"
         "[hsm]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken_label = \"kmra\"\n"
         "pin_file = \"hsm/pin\"\nsofthsm2_conf = \"hsm/softhsm2.conf\"\n\n"
         "[store]\npath = \"state.db\"\n\n"
         "[attestation]\ntrusted_root = \"sgx/root.pem\"\ntrust_simulated_root = true\n"
         "collateral_dir = \"collateral\"\nnonce_lifetime = 300\n\n"
         "[clients]\nallowed = [\"" +
         std::string(enclave::pki::kDefaultClientId) + "\"]\n";
}

// The token module the dev policy measures: --token-module, else KMRA_TOKEN_MODULE, else the module
// beside this kmra (build tree: ../token/; installed: ../lib/pkcs11/, the Debian package's
// ../lib/x86_64-linux-gnu/pkcs11/). Empty when none is found.
std::string FindTokenModule(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("KMRA_TOKEN_MODULE"); env && *env) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (const char* rel :
       {"../token/libkmra-pkcs11.so", "../lib/pkcs11/libkmra-pkcs11.so",
        "../lib/x86_64-linux-gnu/pkcs11/libkmra-pkcs11.so", "../lib/libkmra-pkcs11.so"}) {
    fs::path candidate = (exe.parent_path() / rel).lexically_normal();
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return "";
}

// The demo key's policy: the dev token's enclave. In simulation MRENCLAVE is the SHA-256 of the
// token module file and MRSIGNER that of the PKI's enclave signer key (docs/simulation.md).
Result<std::string> DevPolicyJson(const std::string& dir, const std::string& token_module) {
  enclave::PlatformConfig pc;
  pc.kind = "sim";
  pc.platform_dir = dir + "/sgx/platform-1";
  pc.mrenclave_of = token_module;
  KMRA_ASSIGN_OR_RETURN(auto platform, enclave::OpenPlatform(pc));
  const enclave::PlatformIdentity id = platform->Identity();
  server::Json policy{{"mrsigner", {HexEncode(id.mrsigner)}}};
  if (!token_module.empty()) {
    policy["mrenclave"] = {HexEncode(id.mrenclave)};
  } else {
    Errf(
        "dev: no token module found (pass --token-module); the demo key's policy names "
        "the enclave signer (MRSIGNER) only\n");
  }
  return server::DumpJson(policy);
}

// Generates the demo key in the HSM, has the dev CA sign a CSR made inside the HSM, and registers
// it with a policy naming the dev token's enclave (deny by default: a key without one is never
// released).
Status EnsureDemoKey(const std::string& dir, const server::ServerConfig& config,
                     const std::string& token_module) {
  KMRA_ASSIGN_OR_RETURN(auto store, server::OpenStateStore(config));
  if (store->GetKey(kDevKey)) {
    if (store->GetPolicy(kDevKey)) return OkStatus();
    KMRA_ASSIGN_OR_RETURN(std::string policy, DevPolicyJson(dir, token_module));
    return store->PutPolicy({kDevKey, policy, SystemClock::Get().NowUnix()});
  }
  KMRA_ASSIGN_OR_RETURN(std::string policy, DevPolicyJson(dir, token_module));
  KMRA_ASSIGN_OR_RETURN(SecretBytes pin, server::LoadHsmPin(config));
  auto pool = p11::SessionPool::Create({config.hsm_module, config.hsm_token_label, pin, 1});
  KMRA_ASSIGN_OR_RETURN(auto lease, pool->Acquire());
  KMRA_ASSIGN_OR_RETURN(auto spec, p11::KeySpec::Parse("rsa-2048"));
  p11::KeyName name{std::string("kmra:") + kDevKey + ":v1", {}};
  KMRA_ASSIGN_OR_RETURN(auto objects, p11::GenerateKeyPair(*lease, spec, name));
  p11::CsrRequest csr{"CN=localhost,O=OpenKMRA dev", {"localhost"}, {"127.0.0.1"}};
  KMRA_ASSIGN_OR_RETURN(std::string csr_pem, p11::SignCsr(*lease, objects, csr));
  std::int64_t now = SystemClock::Get().NowUnix();
  KMRA_ASSIGN_OR_RETURN(std::string cert, enclave::pki::SignCsr(dir, csr_pem, 365, now));
  KMRA_ASSIGN_OR_RETURN(std::string ca, ReadFileText(dir + "/tls/ca.pem"));
  KMRA_TRY(store->CreateKey({kDevKey, "demo key made by kmra server --dev", now}));
  store::KeyVersion v;
  v.hsm_label = objects.name.label;
  v.hsm_id = objects.name.id;
  v.key_type = spec.ToString();
  v.origin = "generated";
  v.cert_chain_pem = cert + ca;
  v.created_at = now;
  KMRA_TRY(store->AddKeyVersion(kDevKey, v));
  KMRA_TRY(store->PutPolicy({kDevKey, policy, now}));
  Errf("dev: demo key policy %s\n", policy.c_str());
  return OkStatus();
}

Result<server::ServerConfig> PrepareDev(const ServerArgs& a) {
  if (a.dir.empty()) return InvalidArgument("--dev needs --dir DIR");
  fs::path dir = fs::absolute(a.dir);
  KMRA_TRY(CreateDirectories(dir, 0700));
  std::error_code ec;
  if (!fs::exists(dir / "tls" / "ca.pem", ec)) {
    enclave::pki::PkiInitOptions o;
    o.dir = dir;
    o.tls.now = SystemClock::Get().NowUnix();
    o.sgx.now = o.tls.now;
    KMRA_TRY(enclave::pki::PkiInit(o));
    Errf("dev: wrote the TLS and simulated SGX PKI to %s\n", dir.c_str());
  }
  fs::path hsm = dir / "hsm";
  std::string conf = (hsm / "softhsm2.conf").string();
  if (!fs::exists(hsm / "pin", ec)) {
    KMRA_TRY(CreateDirectories(hsm / "tokens", 0700));
    KMRA_TRY(WriteFileAtomic(conf,
                             "directories.tokendir = " + (hsm / "tokens").string() +
                                 "\nobjectstore.backend = file\nlog.level = ERROR\n"
                                 "slots.removable = false\n",
                             0600));
    std::string pin = RandomPin();
    KMRA_TRY(RunCommandLine({"softhsm2-util", "--init-token", "--free", "--label", kDevToken,
                             "--pin", pin, "--so-pin", RandomPin()},
                            conf));
    KMRA_TRY(WriteFileAtomic(hsm / "pin", pin + "\n", 0600));
    Errf("dev: created SoftHSM2 token '%s' in %s\n", kDevToken, hsm.c_str());
  }
  fs::path config_path = dir / "kmra-server.toml";
  if (!fs::exists(config_path, ec)) {
    KMRA_TRY(WriteFileAtomic(config_path, DevConfigText("127.0.0.1"), 0600));
  }
  KMRA_ASSIGN_OR_RETURN(auto config, server::LoadServerConfig(config_path.string()));
  setenv("SOFTHSM2_CONF", config.softhsm2_conf.c_str(), 1);
  KMRA_TRY(EnsureDemoKey(dir.string(), config, FindTokenModule(a.token_module)));
  return config;
}

void PrintDevBanner(const std::string& dir, const server::ServerConfig& c, std::uint16_t port) {
  std::string url = "https://" + (c.address == "0.0.0.0" ? std::string("127.0.0.1") : c.address) +
                    ":" + std::to_string(port);
  Outf(
      "\n"
      "  OpenKMRA key server (development mode) at %s\n"
      "  !!! It trusts the SIMULATED SGX root: released keys are not protected by real SGX. !!!\n\n"
      "  CA certificate     %s/tls/ca.pem\n"
      "  client (loadkey)   %s/tls/client.pem  %s/tls/client.key   (OU %s)\n"
      "  admin              %s/tls/admin.pem   %s/tls/admin.key    (OU kmra_admin)\n"
      "  demo key           id '%s' (RSA-2048, generated in the HSM, certificate by the dev CA)\n\n"
      "  Try:\n"
      "    curl --cacert %s/tls/ca.pem --cert %s/tls/client.pem --key %s/tls/client.key "
      "%s/sys/version\n"
      "    kmra keys list --dir %s\n"
      "    kmra loadkey --server %s --key-id %s --ca %s/tls/ca.pem --cert %s/tls/client.pem "
      "--key %s/tls/client.key\n\n",
      url.c_str(), dir.c_str(), dir.c_str(), dir.c_str(), enclave::pki::kDefaultClientId,
      dir.c_str(), dir.c_str(), kDevKey, dir.c_str(), dir.c_str(), dir.c_str(), url.c_str(),
      dir.c_str(), url.c_str(), kDevKey, dir.c_str(), dir.c_str(), dir.c_str());
  (void)std::fflush(stdout);  // a failed write sets stdout's error flag, reported at exit
}

// --listen ADDR, ADDR:PORT or [IPv6]:PORT.
Status ApplyListen(const std::string& listen, server::ServerConfig* config) {
  std::string address = listen;
  std::string port;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos) return InvalidArgument("--listen '" + listen + "': missing ]");
    address = listen.substr(1, close - 1);
    if (close + 1 < listen.size() && listen[close + 1] == ':') port = listen.substr(close + 2);
  } else if (std::count(listen.begin(), listen.end(), ':') == 1) {
    address = listen.substr(0, listen.find(':'));
    port = listen.substr(listen.find(':') + 1);
  }
  if (!port.empty()) {
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || p < 0 || p > 65535) {
      return InvalidArgument("--listen '" + listen + "': port must be 0..65535");
    }
    config->port = static_cast<std::uint16_t>(p);
  }
  config->address = address;
  return OkStatus();
}

// --check-config: one line per part on standard output; exit 0 when every part holds, else 1 and a
// line on standard error naming the parts that do not.
int CheckConfigCommand(const server::ServerConfig& config) {
  LogOptions log;
  log.level = "error";
  (void)SetupLogging(log);
  std::string failed;
  Outf("config: ok (replica %s)\n", config.replica.c_str());
  for (const auto& r : server::CheckServerConfig(config)) {
    Outf("%s: %s%s\n", r.part.c_str(), r.ok ? "ok: " : "FAILED: ", r.detail.c_str());
    if (!r.ok) failed += (failed.empty() ? "" : ", ") + r.part;
  }
  (void)std::fflush(stdout);  // a failed write sets stdout's error flag, reported at exit
  if (failed.empty()) return 0;
  Errf("kmra server --check-config: %s not usable (see above)\n", failed.c_str());
  return 1;
}

int RunServerCommand(const ServerArgs& a) {
  auto fail = [](const Error& e) {
    Errf("kmra server: %s\n", e.ToString().c_str());
    return 1;
  };
  server::ServerConfig config;
  if (a.dev) {
    auto prepared = PrepareDev(a);
    if (!prepared) return fail(prepared.error());
    config = std::move(*prepared);
  } else {
    if (a.config.empty() && a.apphsm_conf.empty()) {
      return fail(Error(Code::kInvalidArgument,
                        "pass --config FILE (see deploy/kmra-server.toml), --apphsm-conf FILE, or "
                        "--dev --dir DIR"));
    }
    if (!a.config.empty()) {
      auto loaded = server::LoadServerConfig(a.config);
      if (!loaded) return fail(loaded.error());
      config = std::move(*loaded);
    }
  }
  if (!a.apphsm_conf.empty()) {
    if (auto merged = server::MergeApphsmConf(a.apphsm_conf, &config); !merged) {
      return fail(merged.error());
    }
  }
  if (!a.listen.empty()) {
    if (auto applied = ApplyListen(a.listen, &config); !applied) return fail(applied.error());
  }
  if (!a.port_file.empty()) config.port_file = fs::absolute(a.port_file).string();
  if (a.check_config) return CheckConfigCommand(config);
  server::RunHooks hooks;
  std::string dir = a.dev ? fs::absolute(a.dir).string() : "";
  hooks.on_listening = [&](std::uint16_t port) {
    if (a.dev) PrintDevBanner(dir, config, port);
  };
  auto status = server::RunServer(config, hooks);
  if (!status) return fail(status.error());
  return 0;
}

}  // namespace

void RegisterServerCommands(CLI::App& app) {
  auto args = std::make_shared<ServerArgs>();
  auto* cmd = app.add_subcommand("server", "Run the key server (KMRA AppHSM API 0.2 and /v1)");
  cmd->add_option("--config", args->config, "TOML configuration (see deploy/kmra-server.toml)");
  cmd->add_option("--apphsm-conf", args->apphsm_conf,
                  "A KMRA apphsm.conf (JSON): port, ip, nonce_lifetime, clients, keys");
  cmd->add_flag("--dev", args->dev,
                "Development mode: set up DIR (PKI, SoftHSM2 token, store, demo key) and trust the "
                "simulated SGX root");
  cmd->add_option("--dir", args->dir, "Directory of --dev");
  cmd->add_option("--listen", args->listen, "Listen address (IP), overrides the config");
  cmd->add_option("--port-file", args->port_file, "Write the bound port to this file");
  cmd->add_option("--token-module", args->token_module,
                  "--dev: the token module whose MRENCLAVE the demo key's policy names (default: "
                  "KMRA_TOKEN_MODULE, else libkmra-pkcs11.so beside kmra)");
  cmd->add_flag("--check-config", args->check_config,
                "Parse the config, connect to the store and the HSM, load the TLS files and the "
                "attestation chain, print one line per part and exit (0: all usable) without "
                "listening");
  cmd->callback([args] { SetExitCode(RunServerCommand(*args)); });
}

}  // namespace kmra::cli
