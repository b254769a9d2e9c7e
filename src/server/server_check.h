// `kmra server --check-config`: everything the start does short of listening. Connects to the state
// store (creating or upgrading its tables as the start would) and checks it accepts a write, logs
// in to the HSM, loads the TLS files, and builds the attestation chain.
#pragma once

#include <string>
#include <vector>

#include "server/config.h"

namespace kmra::server {

struct CheckResult {
  std::string part;  // "store", "hsm", "tls", "attestation"
  bool ok = false;
  std::string detail;  // what was checked, or what is wrong (never a PIN or password)
};

// One result per part, in that order. Sets SOFTHSM2_CONF from [hsm] softhsm2_conf as the start
// does.
std::vector<CheckResult> CheckServerConfig(const ServerConfig& config);

}  // namespace kmra::server
