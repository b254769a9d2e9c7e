// Opens the platform a token runs on, from configuration. Free of CLI dependencies and safe to call
// in a child after fork() (it opens everything afresh); the token calls it from C_Initialize.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "enclave/platform.h"

namespace kmra::enclave {

struct PlatformConfig {
  std::string kind;              // "sim" or "gramine"
  std::string platform_dir;      // sim: DIR/sgx/platform-<n> made by `kmra pki init`
  std::string attestation_dir;   // gramine: defaults to /dev/attestation
  std::string mrenclave_of;      // sim: MRENCLAVE = SHA-256 of this file (the token module);
                                 //      empty means the running executable (/proc/self/exe)
  std::uint16_t isv_prod_id = 0;  // sim only; Gramine takes these from the signed enclave
  std::uint16_t isv_svn = 0;
  bool debug = false;
};

// SHA-256 of a file's bytes, as MRENCLAVE of a simulated enclave.
Result<std::array<std::uint8_t, 32>> MeasureFile(const std::string& path);

// Opens a SimPlatform or GraminePlatform. Errors name the kind, file or directory that is wrong.
Result<std::unique_ptr<Platform>> OpenPlatform(const PlatformConfig& config);

}  // namespace kmra::enclave
