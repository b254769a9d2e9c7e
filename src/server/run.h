// Runs the key server from a ServerConfig until SIGINT/SIGTERM: logging, process hardening, the state
// store, the HSM session pool, the quote verifier, keys from a KMRA apphsm.conf, and the listener.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "server/config.h"

namespace kmra::server {

struct RunHooks {
  // Called once the listener is bound, with the real port (before blocking).
  std::function<void(std::uint16_t port)> on_listening;
  // When true, logging is already set up by the caller.
  bool logging_ready = false;
};

// Blocks until SIGINT or SIGTERM. Errors name the setting or file that prevented the start.
Status RunServer(const ServerConfig& config, const RunHooks& hooks = {});

// The HSM user PIN: pin_file, else the environment variable pin_env, else the config (apphsm.conf or
// allow_pin_in_config). FailedPrecondition naming the three places when none has it.
Result<SecretBytes> LoadHsmPin(const ServerConfig& config);

}  // namespace kmra::server
