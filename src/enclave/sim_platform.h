// SimPlatform: a software Quoting Enclave for machines without SGX. It signs DCAP v3 quotes with the
// attestation key of a simulated platform directory (`kmra pki init` makes DIR/sgx/platform-<n>/),
// chained to the simulated Intel-shaped PKI, so they go through the same verifier as real quotes.
//
// Thread safe: everything is immutable after Open. Safe to use in a child after fork().
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "crypto/ossl.h"
#include "enclave/platform.h"
#include "enclave/quote_builder.h"
#include "enclave/sim_layout.h"

namespace kmra::enclave {

struct SimOptions {
  std::string platform_dir;                 // DIR/sgx/platform-<n>
  std::array<std::uint8_t, 32> mrenclave{};  // usually SHA-256 of the token module file
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  bool debug = false;
};

class SimPlatform final : public Platform {
 public:
  // Loads the platform directory. Errors name the missing or malformed file.
  static Result<std::unique_ptr<SimPlatform>> Open(const SimOptions& options);

  Result<std::vector<std::uint8_t>> Quote(std::span<const std::uint8_t, 64> report_data) override;
  // HKDF-SHA256(sealing secret, salt "OpenKMRA sim sealing v1", info MRENCLAVE): the same enclave
  // on the same simulated platform always gets the same key; another MRENCLAVE gets another.
  Result<SecretBytes> SealingKey() override;
  PlatformIdentity Identity() const override { return identity_; }

  const SimPlatformInfo& info() const { return info_; }

 private:
  SimPlatform() = default;

  SimPlatformInfo info_;
  PlatformIdentity identity_;
  ossl::Ptr<EVP_PKEY> attestation_key_;
  SignedQeReport qe_;
  QuoteHeaderV3 header_;
  ReportBody isv_template_;
  SecretBytes sealing_secret_;
};

// MRSIGNER of an enclave signed with `signer` (RSA-3072, as SGX SIGSTRUCT): SHA-256 of the modulus
// in little-endian byte order.
Result<std::array<std::uint8_t, 32>> MrSignerOf(EVP_PKEY* signer);

}  // namespace kmra::enclave
