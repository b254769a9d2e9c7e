// The files of a simulated SGX platform directory (DIR/sgx/platform-<n>/ made by `kmra pki init`).
// Shared by the generator and SimPlatform; see docs/simulation.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/result.h"

namespace kmra::enclave {

inline constexpr char kSimPlatformConfigFile[] = "platform.json";  // the values below, as JSON
inline constexpr char kSimAttestationKeyFile[] = "attestation_key.pem";  // QE attestation key
inline constexpr char kSimPckKeyFile[] = "pck_key.pem";         // PCK private key (the PCE's)
inline constexpr char kSimPckChainFile[] = "pck_chain.pem";     // PCK leaf, Platform CA, root
inline constexpr char kSimSignerKeyFile[] = "signer_key.pem";   // enclave signer (MRSIGNER)
inline constexpr char kSimSealingSecretFile[] = "sealing_secret.bin";  // 32 random bytes
inline constexpr char kSimPlatformFormat[] = "openkmra-sim-platform-1";

// What a simulated platform reports about itself, stored in platform.json.
struct SimPlatformInfo {
  std::array<std::uint8_t, 6> fmspc{};
  std::array<std::uint8_t, 2> pce_id{};
  std::array<std::uint8_t, 16> ppid{};
  std::array<std::uint8_t, 16> qe_id{};        // header user_data[0..16]
  std::array<std::uint8_t, 16> tcb_components{};  // SGX TCB component SVNs (= CPUSVN bytes)
  std::uint16_t pce_svn = 0;
  // The simulated Quoting Enclave; must match the QE identity of the simulated collateral.
  std::array<std::uint8_t, 32> qe_mrenclave{};
  std::array<std::uint8_t, 32> qe_mrsigner{};
  std::uint16_t qe_isv_prod_id = 1;
  std::uint16_t qe_isv_svn = 0;

  // JSON text of platform.json (hex strings for byte fields).
  std::string ToJson() const;
  // Parses platform.json; names the missing or malformed field on error.
  static Result<SimPlatformInfo> FromJson(std::string_view text);
};

}  // namespace kmra::enclave
