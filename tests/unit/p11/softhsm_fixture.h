// A real SoftHSM2 token in a temporary directory for the p11 tests.
//
// SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, and a process initialises a module once, so the token
// directory is per test process (ctest runs each test in its own process).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "p11/module.h"
#include "p11/session.h"

namespace kmra::p11::testing {

inline const char* SoftHsmPath() {
  for (const char* p : {"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "/usr/lib/softhsm/libsofthsm2.so";
}

inline constexpr const char* kUserPin = "1234";
inline constexpr const char* kSoPin = "5678";

// Runs a shell command, returns its exit status.
inline int Run(const std::string& cmd) { return std::system(cmd.c_str()); }

// Creates the temp dir, the SoftHSM2 config and one token per label given to AddToken.
class SoftHsm {
 public:
  SoftHsm() {
    char tmpl[] = "/tmp/kmra-p11-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::filesystem::create_directories(dir_ + "/tokens");
    std::ofstream(dir_ + "/softhsm2.conf") << "directories.tokendir = " << dir_ << "/tokens\n"
                                           << "objectstore.backend = file\nlog.level = ERROR\n"
                                           << "slots.removable = false\n";
    ::setenv("SOFTHSM2_CONF", (dir_ + "/softhsm2.conf").c_str(), 1);
  }
  ~SoftHsm() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // softhsm2-util --init-token --free; returns true on success.
  bool AddToken(const std::string& label) {
    return Run("softhsm2-util --init-token --free --label '" + label + "' --pin " + kUserPin + " --so-pin " +
               kSoPin + " > /dev/null") == 0;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Test base: one token "kmra-test", a loaded module, and a logged-in read-write session.
class SoftHsmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    hsm_ = new SoftHsm();
    ASSERT_TRUE(hsm_->AddToken("kmra-test"));
  }
  static void TearDownTestSuite() {
    delete hsm_;
    hsm_ = nullptr;
  }
  void SetUp() override {
    auto module = Module::Load(SoftHsmPath());
    ASSERT_TRUE(module) << module.error().ToString();
    module_ = *module;
    auto slot = module_->FindSlotByTokenLabel("kmra-test");
    ASSERT_TRUE(slot) << slot.error().ToString();
    slot_ = *slot;
    auto session = Session::Open(module_, slot_, true);
    ASSERT_TRUE(session) << session.error().ToString();
    session_ = std::make_unique<Session>(std::move(*session));
    auto login = session_->Login(SecretBytes::FromString(kUserPin));
    ASSERT_TRUE(login) << login.error().ToString();
  }
  void TearDown() override {
    session_.reset();
    module_.reset();
  }

  static inline SoftHsm* hsm_ = nullptr;
  std::shared_ptr<Module> module_;
  CK_SLOT_ID slot_ = 0;
  std::unique_ptr<Session> session_;
};

}  // namespace kmra::p11::testing
