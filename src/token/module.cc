#include "token/module.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>

#include "token/log.h"
#if KMRA_HAVE_ENCLAVE_FACTORY
#include "enclave/factory.h"
#endif

namespace kmra::token {
namespace {

struct State {
  // Replaced in a forked child; the old one is abandoned there (it may be held by a thread that
  // does not exist in the child).
  std::unique_ptr<std::mutex> mu = std::make_unique<std::mutex>();
  std::atomic<bool> initialized{false};
  std::atomic<pid_t> pid{0};
  // Set in a forked child by the pthread_atfork handler, so the per-call check is a load, not a
  // getpid() system call. C_Initialize compares pids as well (for children made without fork()).
  std::atomic<bool> forked{false};
  std::unique_ptr<Token> token;
  PlatformOpener opener;
};

State& G() {
  static State state;
  return state;
}

void OnForkChild() { G().forked.store(true, std::memory_order_relaxed); }

// glibc unregisters the handler when the module is unloaded (it is tied to this DSO).
void RegisterForkHandler() {
  static const bool registered = ::pthread_atfork(nullptr, nullptr, OnForkChild) == 0;
  (void)registered;
}

bool Current(const State& g) {
  return g.initialized.load() && !g.forked.load(std::memory_order_relaxed);
}

std::mutex& InitMutex() {
  static std::mutex mu;
  return mu;
}

Result<std::unique_ptr<enclave::Platform>> DefaultOpener(const TokenConfig& c,
                                                         const std::string& module_path) {
#if KMRA_HAVE_ENCLAVE_FACTORY
  enclave::PlatformConfig pc;
  pc.kind = c.platform;
  pc.platform_dir = c.platform_dir;
  pc.attestation_dir = c.attestation_dir;
  pc.mrenclave_of = module_path;
  pc.isv_prod_id = c.isv_prod_id;
  pc.isv_svn = c.isv_svn;
  pc.debug = c.debug;
  return enclave::OpenPlatform(pc);
#else
  (void)module_path;
  return Unimplemented("platform '" + c.platform + "' is not available in this build");
#endif
}

CK_RV CheckInitArgs(CK_VOID_PTR init_args) {
  if (init_args == nullptr) return CKR_OK;
  const auto* a = static_cast<const CK_C_INITIALIZE_ARGS*>(init_args);
  if (a->pReserved != nullptr) return CKR_ARGUMENTS_BAD;
  const int given = (a->CreateMutex != nullptr) + (a->DestroyMutex != nullptr) +
                    (a->LockMutex != nullptr) + (a->UnlockMutex != nullptr);
  if (given != 0 && given != 4) return CKR_ARGUMENTS_BAD;
  // With or without CKF_OS_LOCKING_OK, the module locks with the OS primitives it always uses;
  // the application's mutex functions are not needed (§5.4: a library may use OS locking).
  return CKR_OK;
}

}  // namespace

void SetPlatformOpenerForTesting(PlatformOpener opener) { G().opener = std::move(opener); }

std::string ModulePath() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&ModulePath), &info) == 0 || info.dli_fname == nullptr) {
    return "";
  }
  char resolved[4096];
  if (realpath(info.dli_fname, resolved) != nullptr) return resolved;
  return info.dli_fname;
}

CK_RV ModuleInitialize(CK_VOID_PTR init_args) {
  CK_RV rv = CheckInitArgs(init_args);
  if (rv != CKR_OK) return rv;
  State& g = G();
  RegisterForkHandler();
  const pid_t self = ::getpid();
  if (g.forked.load() || (g.pid.load() != 0 && g.pid.load() != self)) {
    // A forked child: forget the parent's state (its lock may be held by a thread that does not
    // exist here) and start over.
    (void)g.mu.release();
    g.mu = std::make_unique<std::mutex>();
    g.token.reset();
    g.initialized = false;
    g.pid = self;
    g.forked = false;
  }
  std::lock_guard<std::mutex> init_lock(InitMutex());
  std::unique_lock<std::mutex> lock(*g.mu);
  if (g.initialized) return CKR_CRYPTOKI_ALREADY_INITIALIZED;
  // A process holding token keys must not dump them (STYLE.md).
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  const std::string path = ConfigPath();
  auto config = LoadConfig(path);
  if (!config) {
    LogError("C_Initialize: " + config.error().message());
    return CKR_FUNCTION_FAILED;
  }
  const PlatformOpener& opener = g.opener ? g.opener : PlatformOpener(DefaultOpener);
  auto platform = opener(*config, ModulePath());
  if (!platform) {
    LogError("C_Initialize: cannot open platform '" + config->platform + "' (config " + path +
             "): " + platform.error().message());
    return CKR_FUNCTION_FAILED;
  }
  auto token = Token::Open(*config, std::move(*platform));
  if (!token) {
    LogError("C_Initialize: cannot open token in " + config->token_dir + " (config " + path +
             "): " + token.error().message());
    return CKR_FUNCTION_FAILED;
  }
  g.token = std::move(*token);
  g.pid = self;
  g.initialized = true;
  return CKR_OK;
}

CK_RV ModuleFinalize(CK_VOID_PTR reserved) {
  if (reserved != nullptr) return CKR_ARGUMENTS_BAD;
  State& g = G();
  if (!Current(g)) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::unique_lock<std::mutex> lock(*g.mu);
  if (!g.initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
  g.token.reset();
  g.initialized = false;
  return CKR_OK;
}

Access Enter() {
  State& g = G();
  Access a;
  if (!Current(g)) return a;
  a.lock = std::unique_lock<std::mutex>(*g.mu);
  if (!g.initialized || !g.token) {
    a.lock.unlock();
    return a;
  }
  a.rv = CKR_OK;
  a.token = g.token.get();
  return a;
}

}  // namespace kmra::token
