// Helpers for crypto tests: a private temp dir and running the `openssl` command-line tool, so
// results can be cross-checked against an independent implementation of the same standard.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"

namespace kmra::crypto::testing {

inline std::span<const uint8_t> B(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kmra-crypto-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs `openssl <args>` with output silenced; true on exit status 0.
inline bool Openssl(const std::string& args) {
  std::string cmd = "openssl " + args + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

inline void Write(const std::filesystem::path& p, std::span<const uint8_t> bytes) {
  ASSERT_TRUE(WriteFileAtomic(p, bytes));
}

inline std::vector<uint8_t> Read(const std::filesystem::path& p) {
  auto r = ReadFileBytes(p);
  EXPECT_TRUE(r) << p;
  return r ? *r : std::vector<uint8_t>{};
}

}  // namespace kmra::crypto::testing
