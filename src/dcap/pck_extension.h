// The Intel SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1), per Intel's "SGX PCK
// Certificate and CRL Profile": the platform's TCB as the PCK was issued for it, and its identity.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "base/result.h"
#include "crypto/x509.h"

namespace kmra::dcap {

struct PckConfiguration {
  std::optional<bool> dynamic_platform;
  std::optional<bool> cached_keys;
  std::optional<bool> smt_enabled;
};

struct PckExtension {
  std::array<uint8_t, 16> ppid{};
  std::array<uint8_t, 16> tcb_components{};  // SGX TCB component SVNs 01..16
  uint16_t pce_svn = 0;
  std::array<uint8_t, 16> cpu_svn{};
  std::array<uint8_t, 2> pce_id{};
  std::array<uint8_t, 6> fmspc{};
  uint32_t sgx_type = 0;  // 0 Standard, 1 Scalable, 2 Scalable with integrity
  std::optional<std::array<uint8_t, 16>> platform_instance_id;  // Platform CA PCKs only
  std::optional<PckConfiguration> configuration;                // Platform CA PCKs only
};

// Parses the DER value of the extension (the content of its OCTET STRING). InvalidArgument naming
// the element when a required field (PPID, TCB, PCE-ID, FMSPC, SGX type) is missing, duplicated or
// has the wrong type or size.
Result<PckExtension> ParsePckExtension(std::span<const uint8_t> der);

// Finds and parses the SGX extension of a certificate. InvalidArgument when it has none.
Result<PckExtension> PckExtensionOf(const crypto::Cert& cert);

}  // namespace kmra::dcap
