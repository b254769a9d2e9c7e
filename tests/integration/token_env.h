// A real token for the integration tests: a simulated SGX platform made by `kmra pki init`, a
// token config, and a token initialised by `kmra token init` through the built module.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "integration/harness.h"

namespace kmra::integration {

inline constexpr char kTokenLabel[] = "kmra-test";
inline constexpr char kTokenPin[] = "1234-user";
inline constexpr char kTokenSoPin[] = "5678-so";

class TokenEnv {
 public:
  // Builds everything in `dir`; ok() tells whether it worked and error() why not.
  explicit TokenEnv(const TempDir& dir) : dir_(dir.path()) {
    module_ = KMRA_TOKEN_MODULE;
    kmra_ = EnvOr("KMRA_BIN", "kmra");
    RunResult r = RunCmd({kmra_, "pki", "init", "--dir", dir_ + "/pki"});
    if (r.exit_code != 0) {
      error_ = "kmra pki init: " + r.output;
      return;
    }
    conf_ = dir_ + "/token.conf";
    r = RunCmd({kmra_, "token", "init", "--conf", conf_, "--token-dir", dir_ + "/token",
                "--platform", "sim", "--platform-dir", dir_ + "/pki/sgx/platform-1", "--module",
                module_, "--label", kTokenLabel, "--so-pin", kTokenSoPin, "--pin", kTokenPin});
    if (r.exit_code != 0) {
      error_ = "kmra token init: " + r.output;
      return;
    }
    env_ = {{"KMRA_TOKEN_CONF", conf_}};
#ifdef KMRA_SANITIZER_PRELOAD
    // Leak reports from the tools themselves are not ours to judge; errors in the module abort.
    env_["LD_PRELOAD"] = KMRA_SANITIZER_PRELOAD;
    env_["ASAN_OPTIONS"] = "detect_leaks=0";
#endif
    ok_ = true;
  }

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const std::string& module() const { return module_; }
  const std::string& conf() const { return conf_; }
  const std::string& kmra() const { return kmra_; }
  const Env& env() const { return env_; }
  std::string dir() const { return dir_; }

  // pkcs11-tool against the token, logged in as the user.
  RunResult Tool(std::vector<std::string> args, bool login = true, int timeout_s = 120) const {
    std::vector<std::string> argv = {"pkcs11-tool", "--module", module_};
    if (login) {
      argv.insert(argv.end(), {"--login", "--pin", kTokenPin});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCmd(argv, env_, timeout_s);
  }

 private:
  std::string dir_, module_, kmra_, conf_, error_;
  Env env_;
  bool ok_ = false;
};

}  // namespace kmra::integration
