// `kmra token init|info`: create and inspect the enclave token through its own PKCS#11 module
// (the module file is the measured enclave, so the token is always opened by the module itself).
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/commands.h"

namespace kmra::cli {
namespace {

struct TokenArgs {
  std::string module;
  std::string conf;
  std::string token_dir, platform = "sim", platform_dir;
  std::string label, so_pin, pin;
  std::string so_pin_env, pin_env;
};

// The module: --module, $KMRA_TOKEN_MODULE, then beside the kmra binary (build tree or install).
std::string FindModule(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("KMRA_TOKEN_MODULE"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (const auto& rel :
       {"../token/libkmra-pkcs11.so", "../lib/pkcs11/libkmra-pkcs11.so",
        "../lib/x86_64-linux-gnu/pkcs11/libkmra-pkcs11.so", "../lib/libkmra-pkcs11.so",
        "../lib/x86_64-linux-gnu/libkmra-pkcs11.so"}) {
    auto p = exe / rel;
    if (std::filesystem::exists(p, ec)) return std::filesystem::weakly_canonical(p, ec).string();
  }
  return "libkmra-pkcs11.so";
}

class Module {
 public:
  ~Module() {
    // The module stays mapped until exit (no dlclose): its atexit handlers and any library it
    // loaded (OpenSSL providers) expect that.
    if (f_ != nullptr) f_->C_Finalize(nullptr);
  }
  bool Open(const std::string& path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      Errf(
          "error: cannot load token module %s: %s\n(use --module or "
          "KMRA_TOKEN_MODULE)\n",
          path.c_str(), dlerror());
      return false;
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle_, "C_GetFunctionList"));
    CK_FUNCTION_LIST_PTR list = nullptr;
    if (get == nullptr || get(&list) != CKR_OK) {
      Errf("error: %s is not a PKCS#11 module\n", path.c_str());
      return false;
    }
    if (CK_RV rv = list->C_Initialize(nullptr); rv != CKR_OK) {
      Errf("error: C_Initialize failed (0x%lx); the line above says why\n", rv);
      return false;
    }
    f_ = list;
    return true;
  }
  CK_FUNCTION_LIST_PTR f() const { return f_; }

 private:
  void* handle_ = nullptr;
  CK_FUNCTION_LIST_PTR f_ = nullptr;
};

bool Check(CK_RV rv, const char* what) {
  if (rv == CKR_OK) return true;
  const char* hint = rv == CKR_PIN_INCORRECT    ? " (wrong PIN)"
                     : rv == CKR_PIN_LEN_RANGE  ? " (PINs are 4 to 255 characters)"
                     : rv == CKR_PIN_LOCKED     ? " (PIN locked; the SO resets it with init-pin)"
                     : rv == CKR_SESSION_EXISTS ? " (another session is open)"
                                                : "";
  Errf("error: %s failed: CKR 0x%lx%s\n", what, rv, hint);
  return false;
}

CK_UTF8CHAR_PTR U(const std::string& s) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s.data()));
}

std::string Secret(const std::string& value, const std::string& env, const char* name) {
  if (!value.empty()) return value;
  if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    if (v != nullptr) return v;
    Errf("error: %s: environment variable %s is not set\n", name, env.c_str());
  }
  return "";
}

bool WriteConfig(const TokenArgs& a) {
  std::error_code ec;
  auto parent = std::filesystem::path(a.conf).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::ofstream out(a.conf, std::ios::trunc);
  out << "# OpenKMRA token configuration (see docs/token.md)\n"
      << "token_dir = \"" << a.token_dir << "\"\n"
      << "platform = \"" << a.platform << "\"\n";
  if (!a.platform_dir.empty()) out << "platform_dir = \"" << a.platform_dir << "\"\n";
  out << "max_pin_failures = 10\n";
  if (!out) {
    Errf("error: cannot write %s\n", a.conf.c_str());
    return false;
  }
  return true;
}

int RunInit(const TokenArgs& a) {
  if (!a.token_dir.empty()) {
    if (a.conf.empty()) {
      Errf("error: --token-dir writes a config file; name it with --conf\n");
      return 2;
    }
    if (a.token_dir[0] != '/' || (a.platform == "sim" && a.platform_dir.empty())) {
      Errf(
          "error: --token-dir must be absolute, and --platform sim needs "
          "--platform-dir (a `kmra pki init` platform folder)\n");
      return 2;
    }
    if (!WriteConfig(a)) return 1;
  }
  if (!a.conf.empty()) setenv("KMRA_TOKEN_CONF", a.conf.c_str(), 1);
  const std::string so_pin = Secret(a.so_pin, a.so_pin_env, "--so-pin");
  const std::string pin = Secret(a.pin, a.pin_env, "--pin");
  if (so_pin.empty() || pin.empty()) {
    Errf(
        "error: give the SO PIN (--so-pin or --so-pin-env) and the user PIN "
        "(--pin or --pin-env)\n");
    return 2;
  }
  Module m;
  if (!m.Open(FindModule(a.module))) return 1;
  std::string label = a.label;
  label.resize(32, ' ');
  CK_SESSION_HANDLE s;
  if (!Check(m.f()->C_InitToken(0, U(so_pin), so_pin.size(), U(label)), "C_InitToken") ||
      !Check(m.f()->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
             "C_OpenSession") ||
      !Check(m.f()->C_Login(s, CKU_SO, U(so_pin), so_pin.size()), "C_Login (SO)") ||
      !Check(m.f()->C_InitPIN(s, U(pin), pin.size()), "C_InitPIN")) {
    return 1;
  }
  m.f()->C_CloseSession(s);
  Outf("token \"%s\" initialised\n", a.label.c_str());
  return 0;
}

int RunInfo(const TokenArgs& a) {
  if (!a.conf.empty()) setenv("KMRA_TOKEN_CONF", a.conf.c_str(), 1);
  Module m;
  if (!m.Open(FindModule(a.module))) return 1;
  CK_TOKEN_INFO info;
  if (!Check(m.f()->C_GetTokenInfo(0, &info), "C_GetTokenInfo")) return 1;
  auto field = [](const unsigned char* p, size_t n) {
    std::string s(reinterpret_cast<const char*>(p), n);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  };
  Outf(
      "label:        %s\nmodel:        %s\nserial:       %s\ninitialised:  %s\n"
      "user PIN:     %s\n",
      field(info.label, 32).c_str(), field(info.model, 16).c_str(),
      field(info.serialNumber, 16).c_str(), (info.flags & CKF_TOKEN_INITIALIZED) ? "yes" : "no",
      (info.flags & CKF_USER_PIN_LOCKED)        ? "locked"
      : (info.flags & CKF_USER_PIN_INITIALIZED) ? "set"
                                                : "not set");
  return 0;
}

}  // namespace

void RegisterToken(CLI::App& app) {
  auto* token = app.add_subcommand("token", "Create and inspect the enclave PKCS#11 token");
  token->require_subcommand(1);
  auto args = std::make_shared<TokenArgs>();
  auto common = [args](CLI::App* c) {
    c->add_option("--module", args->module,
                  "Token module (default: $KMRA_TOKEN_MODULE, or "
                  "libkmra-pkcs11.so beside kmra)");
    c->add_option("--conf", args->conf,
                  "Token config file (default: $KMRA_TOKEN_CONF, then "
                  "/etc/kmra/token.conf)");
  };
  auto* init = token->add_subcommand("init",
                                     "Initialise the token (erases its objects) and set "
                                     "the SO and user PINs");
  common(init);
  init->add_option("--label", args->label, "Token label (up to 32 characters)")->required();
  init->add_option("--so-pin", args->so_pin, "Security officer PIN");
  init->add_option("--so-pin-env", args->so_pin_env, "Read the SO PIN from this variable");
  init->add_option("--pin", args->pin, "User PIN");
  init->add_option("--pin-env", args->pin_env, "Read the user PIN from this variable");
  init->add_option("--token-dir", args->token_dir,
                   "Write --conf first, for a token in this "
                   "directory");
  init->add_option("--platform", args->platform, "With --token-dir: sim or gramine")
      ->check(CLI::IsMember({"sim", "gramine"}));
  init->add_option("--platform-dir", args->platform_dir,
                   "With --token-dir and sim: a "
                   "`kmra pki init` platform folder (DIR/sgx/platform-1)");
  init->callback([args] { SetExitCode(RunInit(*args)); });
  auto* info = token->add_subcommand("info", "Show the token's label, serial and PIN state");
  common(info);
  info->callback([args] { SetExitCode(RunInfo(*args)); });
}

}  // namespace kmra::cli
