// What the token trusts its platform for: quotes over report data, a sealing key, and its identity.
//
// Implementations: SimPlatform (software QE + simulated Intel PKI made by `kmra pki init`) and
// GraminePlatform (Gramine-SGX's /dev/attestation). Both produce byte-for-byte DCAP quotes that go through
// the same verifier (src/dcap). Implementations are thread safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::enclave {

// The measurement of the code asking for quotes, as a verifier will see it in the ISV report.
struct PlatformIdentity {
  std::string kind;                      // "sim" or "gramine"
  std::array<std::uint8_t, 32> mrenclave{};
  std::array<std::uint8_t, 32> mrsigner{};
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  bool debug = false;
};

class Platform {
 public:
  virtual ~Platform() = default;

  // Returns a DCAP quote whose ISV enclave report carries exactly `report_data` (64 bytes).
  virtual Result<std::vector<std::uint8_t>> Quote(std::span<const std::uint8_t, 64> report_data) = 0;

  // Returns a 32-byte key bound to this enclave identity on this platform (MRENCLAVE policy), used to
  // seal token objects with AES-256-GCM. The same enclave on the same platform always gets the same key.
  virtual Result<SecretBytes> SealingKey() = 0;

  // The identity quotes of this platform carry.
  virtual PlatformIdentity Identity() const = 0;
};

}  // namespace kmra::enclave
