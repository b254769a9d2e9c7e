// Copying token.meta back (to reset the PIN failure counters) or deleting it (to make the token
// look new, so that C_InitToken takes any SO PIN) is refused: the record is bound to the object
// store's generation (objects/.generation).
#include <unistd.h>

#include "store_attack.h"

namespace kmra::token::testing {
namespace {

using RollbackTest = StoreAttackTest;
using ::testing::HasSubstr;

CK_RV WrongPin(CK_SESSION_HANDLE s) {
  return C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>("guess")), 5);
}

TEST_F(RollbackTest, RestoringAnOldTokenMetaDoesNotResetPinFailures) {
  const std::string meta = store_ + "/token.meta";
  const std::string fresh = Read(meta);  // no failures yet
  EXPECT_EQ(WrongPin(session_), CKR_PIN_INCORRECT);
  EXPECT_EQ(WrongPin(session_), CKR_PIN_INCORRECT);  // one try left (max_pin_failures = 3)
  const std::string current = Read(meta);
  Write(meta, fresh);

  // The running module sees the change and refuses the stale record: no login, no new tries.
  std::string log;
  EXPECT_NE(Logged(&log, [&] { return LoginUser(); }), CKR_OK);
  EXPECT_THAT(log, HasSubstr("rolled back"));
  EXPECT_NE(WrongPin(session_), CKR_PIN_INCORRECT);
  // A new process refuses it too, and says what to do.
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr(meta + " is older than the object store"));
  EXPECT_THAT(log, HasSubstr("restore the current token.meta"));

  // The current record back: the two failures are still counted, the right PIN still works.
  Write(meta, current);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_NE(info.flags & CKF_USER_PIN_FINAL_TRY, 0u);
  ExpectLegitFlowWorks("after-rollback");
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_EQ(info.flags & CKF_USER_PIN_COUNT_LOW, 0u);
}

TEST_F(RollbackTest, ALockedPinStaysLockedWhenTheRecordIsRestored) {
  const std::string meta = store_ + "/token.meta";
  const std::string fresh = Read(meta);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(WrongPin(session_), CKR_PIN_INCORRECT);
  EXPECT_EQ(WrongPin(session_), CKR_PIN_LOCKED);
  const std::string locked = Read(meta);
  Write(meta, fresh);
  EXPECT_EQ(Reopen(nullptr), CKR_FUNCTION_FAILED);
  EXPECT_NE(LoginUser(), CKR_OK);
  // With the current record the PIN is still locked; the legitimate way out (the SO resets the
  // user PIN) works.
  Write(meta, locked);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  EXPECT_EQ(LoginUser(), CKR_PIN_LOCKED);
  ASSERT_EQ(C_Login(session_, CKU_SO, Pin(kSoPin), sizeof kSoPin - 1), CKR_OK);
  ASSERT_EQ(C_InitPIN(session_, Pin(kUserPin), sizeof kUserPin - 1), CKR_OK);
  ASSERT_EQ(C_Logout(session_), CKR_OK);
  ExpectLegitFlowWorks("after-reset");
}

TEST_F(RollbackTest, DeletingTheGenerationFileDoesNotLetAnOldTokenMetaIn) {
  const std::string meta = store_ + "/token.meta";
  const std::string gen = store_ + "/objects/.generation";
  const std::string fresh = Read(meta);
  EXPECT_EQ(WrongPin(session_), CKR_PIN_INCORRECT);
  EXPECT_EQ(WrongPin(session_), CKR_PIN_INCORRECT);
  const std::string current = Read(meta), current_gen = Read(gen);
  Write(meta, fresh);
  ASSERT_EQ(::unlink(gen.c_str()), 0);
  std::string log;
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr(gen + " is missing although token.meta was written with it"));
  // Back to the current pair: two failures still counted, the right PIN works.
  Write(meta, current);
  Write(gen, current_gen);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_NE(info.flags & CKF_USER_PIN_FINAL_TRY, 0u);
  ExpectLegitFlowWorks("after-generation-delete");
}

TEST_F(RollbackTest, AnOlderGenerationFileIsWhatACrashLeavesAndIsAccepted) {
  // A crash between the record write and the generation write leaves .generation one step behind;
  // that must not make the token unusable (and gives an attacker nothing: the record is current).
  const std::string gen = store_ + "/objects/.generation";
  const std::string before = Read(gen);
  EXPECT_EQ(WrongPin(session_), CKR_PIN_INCORRECT);
  Write(gen, before);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_NE(info.flags & CKF_USER_PIN_COUNT_LOW, 0u);
  ExpectLegitFlowWorks("after-crash");
  EXPECT_NE(Read(gen), before);  // the next write brought it level again
}

TEST_F(RollbackTest, DeletingTokenMetaDoesNotMakeANewToken) {
  const std::string meta = store_ + "/token.meta";
  const std::string current = Read(meta);
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  ASSERT_EQ(::unlink(meta.c_str()), 0);
  std::string log;
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr(meta + " is missing but the object store belongs to an initialised "
                                    "token"));
  // No way to C_InitToken with an SO PIN of the attacker's choice.
  std::string label(32, ' ');
  EXPECT_NE(C_InitToken(0, Pin("attacker-so"), 11, Pin(label.c_str())), CKR_OK);
  Write(meta, current);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  ExpectLegitFlowWorks("after-delete");
}

TEST_F(RollbackTest, TokenMetaOfAnotherTokenIsRefused) {
  // A second token sealed by the same enclave: its record cannot stand in for this one's.
  const std::string meta = store_ + "/token.meta";
  const std::string mine = Read(meta);
  const std::string first_conf = conf_;
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  const std::string other = dir_ + "/other";
  ASSERT_EQ(::mkdir(other.c_str(), 0700), 0);
  std::string conf = Read(first_conf);
  conf.replace(conf.find(store_), store_.size(), other + "/store");
  Write(other + "/token.conf", conf);
  setenv("KMRA_TOKEN_CONF", (other + "/token.conf").c_str(), 1);
  ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
  std::string label(32, ' ');
  ASSERT_EQ(C_InitToken(0, Pin(kSoPin), sizeof kSoPin - 1, Pin(label.c_str())), CKR_OK);
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  setenv("KMRA_TOKEN_CONF", first_conf.c_str(), 1);
  Write(meta, Read(other + "/store/token.meta"));
  std::string log;
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr("belongs to another token"));
  Write(meta, mine);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  ExpectLegitFlowWorks("after-swap");
}

}  // namespace
}  // namespace kmra::token::testing
