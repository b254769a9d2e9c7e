// Process-wide state of the PKCS#11 module: initialisation, fork detection and the one lock.
//
// PKCS#11 §5.4: after fork() the child must call C_Initialize again; until it does, every call
// answers CKR_CRYPTOKI_NOT_INITIALIZED (NGINX workers rely on this). All calls are serialised by
// one mutex (CKF_OS_LOCKING_OK); it is re-created in a forked child, because a parent thread may
// have held it at fork time.
#pragma once

#include <p11-kit/pkcs11.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/result.h"
#include "enclave/platform.h"
#include "token/config.h"
#include "token/token.h"

namespace kmra::token {

// Opens the platform a token runs on. The default uses enclave/factory.h (sim or gramine);
// `module_path` is the module's own file (its SHA-256 is MRENCLAVE in simulation).
using PlatformOpener = std::function<Result<std::unique_ptr<enclave::Platform>>(
    const TokenConfig& config, const std::string& module_path)>;

// Replaces the platform opener (unit tests of the C ABI run without platform files).
void SetPlatformOpenerForTesting(PlatformOpener opener);

// C_Initialize / C_Finalize.
CK_RV ModuleInitialize(CK_VOID_PTR init_args);
CK_RV ModuleFinalize(CK_VOID_PTR reserved);

// The token of an initialised module, with the module lock held while the Access lives.
struct Access {
  CK_RV rv = CKR_CRYPTOKI_NOT_INITIALIZED;
  Token* token = nullptr;
  std::unique_lock<std::mutex> lock;
};
Access Enter();

// The path of the loaded module file (dladdr), or "" when unknown.
std::string ModulePath();

}  // namespace kmra::token
