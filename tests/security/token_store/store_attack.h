// The attacker's setting for the token store tests: an initialised token in <tmp>/store (the
// fixture of the token's unit tests), a root-owned victim file and directory outside the store,
// and helpers to reopen the module as a new process would while capturing what it says.
#pragma once

#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "token_fixture.h"

namespace kmra::token::testing {

class StoreAttackTest : public TokenTest {
 protected:
  void SetUp() override {
    TokenTest::SetUp();
    if (HasFatalFailure()) return;
    store_ = dir_ + "/store";
    victim_ = dir_ + "/victim";
    std::ofstream(victim_) << "root's file, not the token's\n";
    ASSERT_EQ(::chmod(victim_.c_str(), 0644), 0);
    victim_dir_ = dir_ + "/victim-dir";
    ASSERT_EQ(::mkdir(victim_dir_.c_str(), 0755), 0);
    std::ofstream(victim_dir_ + "/keep") << "keep\n";
    ASSERT_EQ(::stat(victim_.c_str(), &victim_st_), 0);
    ASSERT_EQ(::stat(victim_dir_.c_str(), &victim_dir_st_), 0);
  }

  // C_Finalize + C_Initialize with the module's stderr in `log`.
  CK_RV Reopen(std::string* log) {
    C_Finalize(nullptr);
    unsetenv("KMRA_TOKEN_QUIET");
    ::testing::internal::CaptureStderr();
    CK_RV rv = C_Initialize(nullptr);
    std::string out = ::testing::internal::GetCapturedStderr();
    setenv("KMRA_TOKEN_QUIET", "1", 1);
    if (log != nullptr) *log = out;
    if (rv == CKR_OK) {
      C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session_);
    }
    return rv;
  }

  // Runs `call` with the module's stderr captured into `log`.
  template <class F>
  CK_RV Logged(std::string* log, F call) {
    unsetenv("KMRA_TOKEN_QUIET");
    ::testing::internal::CaptureStderr();
    CK_RV rv = call();
    *log = ::testing::internal::GetCapturedStderr();
    setenv("KMRA_TOKEN_QUIET", "1", 1);
    return rv;
  }

  static std::string Read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  static void Write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  static bool IsLink(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  }

  // The victim file and directory are exactly as they were: content, owner, mode, inode, times.
  void ExpectVictimsUntouched() {
    struct stat now {};
    ASSERT_EQ(::stat(victim_.c_str(), &now), 0);
    EXPECT_EQ(Read(victim_), "root's file, not the token's\n");
    EXPECT_EQ(now.st_uid, victim_st_.st_uid);
    EXPECT_EQ(now.st_gid, victim_st_.st_gid);
    EXPECT_EQ(now.st_mode, victim_st_.st_mode);
    EXPECT_EQ(now.st_ino, victim_st_.st_ino);
    EXPECT_EQ(now.st_size, victim_st_.st_size);
    EXPECT_EQ(now.st_mtim.tv_sec, victim_st_.st_mtim.tv_sec);
    EXPECT_EQ(now.st_mtim.tv_nsec, victim_st_.st_mtim.tv_nsec);
    EXPECT_EQ(now.st_ctim.tv_nsec, victim_st_.st_ctim.tv_nsec);
    ASSERT_EQ(::stat(victim_dir_.c_str(), &now), 0);
    EXPECT_EQ(now.st_uid, victim_dir_st_.st_uid);
    EXPECT_EQ(now.st_mode, victim_dir_st_.st_mode);
    EXPECT_EQ(now.st_mtim.tv_nsec, victim_dir_st_.st_mtim.tv_nsec);
    EXPECT_EQ(now.st_ctim.tv_nsec, victim_dir_st_.st_ctim.tv_nsec);
  }

  // The legitimate flow: the user logs in, makes a token object, and a new process finds it.
  void ExpectLegitFlowWorks(const std::string& label) {
    ASSERT_EQ(LoginUser(), CKR_OK);
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &data, sizeof data},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
    CK_OBJECT_HANDLE h;
    ASSERT_EQ(C_CreateObject(session_, t, 3, &h), CKR_OK);
    Restart();
    ASSERT_EQ(LoginUser(), CKR_OK);
    EXPECT_EQ(Find({{CKA_LABEL, const_cast<char*>(label.data()), label.size()}}).size(), 1u);
  }

  std::string store_, victim_, victim_dir_;
  struct stat victim_st_ {
  }, victim_dir_st_{};
};

}  // namespace kmra::token::testing
