// A simulated PKI made once per test suite in a temporary directory (kmra pki init's library).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "enclave/pki/pki_init.h"

namespace kmra::enclave::testing {

// Makes a fresh temporary directory and removes it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kmra-enclave-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Fixed issue time so the tests do not depend on the wall clock: 2026-01-15T00:00:00Z.
inline constexpr int64_t kPkiTime = 1768435200;

// Runs PkiInit with `platforms` specs into `dir`.
inline void MakePki(const std::filesystem::path& dir, std::vector<pki::SimPlatformSpec> platforms,
                    bool expired = false) {
  pki::PkiInitOptions o;
  o.dir = dir;
  o.tls.now = kPkiTime;
  o.sgx.now = kPkiTime;
  o.sgx.platforms = std::move(platforms);
  o.sgx.expired_collateral = expired;
  auto s = pki::PkiInit(o);
  ASSERT_TRUE(s) << s.error().ToString();
}

}  // namespace kmra::enclave::testing
