#include "p11/session_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "p11/keys.h"
#include "p11/wrap.h"
#include "softhsm_fixture.h"
#include "test_keys.h"

namespace kmra::p11 {
namespace {

using ::testing::HasSubstr;
using testing::SoftHsmTest;

class SessionPoolTest : public SoftHsmTest {
 protected:
  PoolConfig Config(const std::string& label, const char* pin = testing::kUserPin, size_t max = 4) {
    return PoolConfig{testing::SoftHsmPath(), label, SecretBytes::FromString(pin), max};
  }
};

TEST_F(SessionPoolTest, ConcurrentReleasesShareFewSessions) {
  auto key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), KeyName{"pooled", {}});
  ASSERT_TRUE(key);
  auto cust = RsaPublicKeyFromSpki(testing::Spki(testing::MakeRsa(2048).get()));
  ASSERT_TRUE(cust);
  auto pool = SessionPool::Create(Config("kmra-test", testing::kUserPin, 3));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto lease = pool->Acquire();
        if (!lease) continue;
        auto found = FindKey(**lease, KeyName{"pooled", {}});
        if (!found) continue;
        auto wrapped = WrapForRelease(**lease, found->private_key, *cust, OaepChoice::kSha1);
        if (wrapped && !wrapped->wrapped_key.empty()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 30);
  EXPECT_TRUE(pool->Check());
}

TEST_F(SessionPoolTest, WrongPinAndMissingTokenAreReportedEveryTime) {
  // Login state is per token and process (PKCS#11 section 5.6): log the fixture out first.
  ASSERT_TRUE(session_->Logout());
  auto bad_pin = SessionPool::Create(Config("kmra-test", "9999"));
  for (int i = 0; i < 2; ++i) {
    auto lease = bad_pin->Acquire();
    ASSERT_FALSE(lease);
    EXPECT_EQ(lease.error().code(), Code::kUnauthenticated);
    EXPECT_THAT(lease.error().message(), HasSubstr("kmra-test"));
  }
  auto no_module = SessionPool::Create(PoolConfig{"/nonexistent/libhsm.so", "x", {}, 2});
  auto lease = no_module->Acquire();
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().code(), Code::kUnavailable);
  EXPECT_THAT(lease.error().message(), HasSubstr("/nonexistent/libhsm.so"));
}

TEST_F(SessionPoolTest, RecoversWhenTheTokenAppearsWithoutRestart) {
  // SoftHSM2 scans its token directory in C_Initialize, so the pool must be the module's only user
  // for a reconnect to see the new token (as in the server).
  session_.reset();
  module_.reset();
  auto pool = SessionPool::Create(Config("late-token"));
  auto before = pool->Acquire();
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code(), Code::kUnavailable);
  EXPECT_THAT(before.error().message(), HasSubstr("late-token"));
  ASSERT_TRUE(hsm_->AddToken("late-token"));
  auto after = pool->Acquire();
  ASSERT_TRUE(after) << after.error().ToString();
  EXPECT_TRUE((*after)->State());
}

TEST_F(SessionPoolTest, BrokenSessionsAreNotReused) {
  auto pool = SessionPool::Create(Config("kmra-test", testing::kUserPin, 1));
  CK_SESSION_HANDLE first;
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease);
    first = (*lease)->handle();
    // Close the session behind the pool's back: the next call reports CKR_SESSION_HANDLE_INVALID.
    (*lease)->fn()->C_CloseSession(first);
    auto state = (*lease)->State();
    ASSERT_FALSE(state);
    EXPECT_EQ(state.error().code(), Code::kUnavailable);
    EXPECT_TRUE((*lease)->broken());
  }
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease);
  EXPECT_TRUE((*lease)->State());
}

}  // namespace
}  // namespace kmra::p11
