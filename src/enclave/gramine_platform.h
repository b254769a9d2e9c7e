// GraminePlatform: quotes and sealing keys from Gramine-SGX's attestation pseudo-filesystem.
//   write 64 bytes to <dir>/user_report_data, read the DCAP quote from <dir>/quote;
//   the MRENCLAVE-bound sealing key material is <dir>/keys/_sgx_mrenclave (16 bytes).
// The directory is /dev/attestation inside Gramine; tests point it at a folder a fixture serves.
//
// Thread safe: a mutex keeps each write-then-read pair together. After fork() open a new one.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "enclave/platform.h"

namespace kmra::enclave {

inline constexpr char kDefaultAttestationDir[] = "/dev/attestation";

class GraminePlatform final : public Platform {
 public:
  // Checks the attestation directory (attestation_type "dcap" when present), then takes one quote
  // over zero report data to learn the enclave identity. Errors say what is missing.
  static Result<std::unique_ptr<GraminePlatform>> Open(const std::string& attestation_dir);

  // Fails if Gramine returns a quote whose report data is not the one written (another writer
  // raced us outside this process) or that is too short to be a DCAP quote.
  Result<std::vector<std::uint8_t>> Quote(std::span<const std::uint8_t, 64> report_data) override;
  // HKDF-SHA256(keys/_sgx_mrenclave, salt "OpenKMRA gramine sealing v1") -> 32 bytes.
  Result<SecretBytes> SealingKey() override;
  PlatformIdentity Identity() const override { return identity_; }

 private:
  explicit GraminePlatform(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
  std::mutex mu_;
  PlatformIdentity identity_;
};

}  // namespace kmra::enclave
