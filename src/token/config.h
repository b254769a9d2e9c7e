// The token's configuration file (TOML), named by KMRA_TOKEN_CONF (default /etc/kmra/token.conf).
//
//   token_dir = "/var/lib/kmra/token"       # where the sealed objects live (created 0700 if missing)
//   platform = "sim"                        # "sim" or "gramine"
//   platform_dir = "/etc/kmra/pki/sgx/platform-0"   # sim: a `kmra pki init` platform folder
//   attestation_dir = "/dev/attestation"    # gramine only
//   max_pin_failures = 10                   # user and SO PIN lock after this many wrong PINs in a row
//   isv_prod_id = 0, isv_svn = 0, debug = false     # enclave identity claimed in simulated quotes
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace kmra::token {

inline constexpr char kDefaultConfigPath[] = "/etc/kmra/token.conf";

struct TokenConfig {
  std::string path;  // the file it was read from
  std::string token_dir;
  std::string platform;  // "sim" | "gramine"
  std::string platform_dir;
  std::string attestation_dir = "/dev/attestation";
  int max_pin_failures = 10;
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  bool debug = false;
};

// The config path: $KMRA_TOKEN_CONF when set and not empty, else kDefaultConfigPath.
std::string ConfigPath();

// Reads and validates a config file. Errors name the file and the offending key.
Result<TokenConfig> LoadConfig(const std::string& path);

// Parses config text (`origin` names it in errors).
Result<TokenConfig> ParseConfig(std::string_view text, const std::string& origin);

}  // namespace kmra::token
