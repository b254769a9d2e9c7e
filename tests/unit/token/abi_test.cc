// The C ABI's general, slot, session and login behaviour (PKCS#11 v2.40 §5.4-5.6).
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "token/abi/functions.h"
#include "token_fixture.h"

namespace kmra::token::testing {
namespace {

TEST(AbiNotInitialized, EveryCallSaysNotInitialized) {
  CK_SESSION_HANDLE s;
  CK_INFO info;
  CK_ULONG n = 0;
  EXPECT_EQ(C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(C_GetSlotList(CK_FALSE, nullptr, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &s), CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(C_Sign(1, nullptr, 0, nullptr, nullptr), CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(C_Finalize(nullptr), CKR_CRYPTOKI_NOT_INITIALIZED);
}

TEST(AbiNotInitialized, MissingConfigFailsCleanly) {
  setenv("KMRA_TOKEN_QUIET", "1", 1);
  setenv("KMRA_TOKEN_CONF", "/nonexistent/kmra/token.conf", 1);
  EXPECT_EQ(C_Initialize(nullptr), CKR_FUNCTION_FAILED);
  CK_INFO info;
  EXPECT_EQ(C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
}

TEST(AbiNotInitialized, FunctionListIsComplete) {
  CK_FUNCTION_LIST_PTR list = nullptr;
  ASSERT_EQ(C_GetFunctionList(&list), CKR_OK);
  EXPECT_EQ(list->version.major, 2);
  EXPECT_EQ(list->version.minor, 40);
  // Every slot of the list points at a function (none left NULL).
  auto** begin = reinterpret_cast<void**>(&list->C_Initialize);
  auto** end = reinterpret_cast<void**>(&list->C_WaitForSlotEvent) + 1;
  for (auto** p = begin; p != end; ++p) EXPECT_NE(*p, nullptr);
  EXPECT_EQ(C_GetFunctionList(nullptr), CKR_ARGUMENTS_BAD);
}

TEST(AbiNotInitialized, InitArgsAreChecked) {
  CK_C_INITIALIZE_ARGS args{};
  args.pReserved = &args;
  EXPECT_EQ(C_Initialize(&args), CKR_ARGUMENTS_BAD);
  args.pReserved = nullptr;
  args.CreateMutex = reinterpret_cast<CK_CREATEMUTEX>(1);  // some but not all mutex functions
  EXPECT_EQ(C_Initialize(&args), CKR_ARGUMENTS_BAD);
}

using AbiTest = TokenTest;

TEST_F(AbiTest, InitializeTwiceAndSlotInfo) {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  EXPECT_EQ(C_Initialize(&args), CKR_CRYPTOKI_ALREADY_INITIALIZED);
  CK_ULONG n = 0;
  ASSERT_EQ(C_GetSlotList(CK_TRUE, nullptr, &n), CKR_OK);
  EXPECT_EQ(n, 1u);
  CK_SLOT_ID slots[1];
  CK_ULONG zero = 0;
  EXPECT_EQ(C_GetSlotList(CK_TRUE, slots, &zero), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(zero, 1u);
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(info.label), 4), "unit");
  EXPECT_TRUE(info.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_TRUE(info.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_EQ(C_GetTokenInfo(5, &info), CKR_SLOT_ID_INVALID);
}

TEST_F(AbiTest, CheckOrderIsSessionBeforeArguments) {
  EXPECT_EQ(C_Login(999, CKU_USER, nullptr, 0), CKR_SESSION_HANDLE_INVALID);
  EXPECT_EQ(C_Login(session_, CKU_USER, nullptr, 0), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_GetSessionInfo(session_, nullptr), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_SignInit(session_, nullptr, 1), CKR_ARGUMENTS_BAD);
}

TEST_F(AbiTest, LoginStatesAndWrongPin) {
  CK_SESSION_INFO si;
  ASSERT_EQ(C_GetSessionInfo(session_, &si), CKR_OK);
  EXPECT_EQ(si.state, CKS_RW_PUBLIC_SESSION);
  EXPECT_EQ(C_Login(session_, CKU_USER, Pin("wrong"), 5), CKR_PIN_INCORRECT);
  ASSERT_EQ(LoginUser(), CKR_OK);
  EXPECT_EQ(LoginUser(), CKR_USER_ALREADY_LOGGED_IN);
  ASSERT_EQ(C_GetSessionInfo(session_, &si), CKR_OK);
  EXPECT_EQ(si.state, CKS_RW_USER_FUNCTIONS);
  EXPECT_EQ(C_Logout(session_), CKR_OK);
  EXPECT_EQ(C_Logout(session_), CKR_USER_NOT_LOGGED_IN);
}

TEST_F(AbiTest, UserPinLocksAfterConfiguredFailuresAcrossRestarts) {
  EXPECT_EQ(C_Login(session_, CKU_USER, Pin("bad1"), 4), CKR_PIN_INCORRECT);
  EXPECT_EQ(C_Login(session_, CKU_USER, Pin("bad2"), 4), CKR_PIN_INCORRECT);
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_TRUE(info.flags & CKF_USER_PIN_FINAL_TRY);
  Restart();  // the counter is in the sealed record, not in this process
  EXPECT_EQ(C_Login(session_, CKU_USER, Pin("bad3"), 4), CKR_PIN_LOCKED);
  EXPECT_EQ(LoginUser(), CKR_PIN_LOCKED);  // even the right PIN
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_TRUE(info.flags & CKF_USER_PIN_LOCKED);
  // The SO resets the PIN.
  ASSERT_EQ(C_Login(session_, CKU_SO, Pin(kSoPin), sizeof kSoPin - 1), CKR_OK);
  ASSERT_EQ(C_InitPIN(session_, Pin("new-pin-1"), 9), CKR_OK);
  ASSERT_EQ(C_Logout(session_), CKR_OK);
  EXPECT_EQ(C_Login(session_, CKU_USER, Pin("new-pin-1"), 9), CKR_OK);
}

TEST_F(AbiTest, SoPinLocksTooAndThenTheTokenCannotBeReinitialised) {
  EXPECT_EQ(C_Login(session_, CKU_SO, Pin("bad-so-1"), 8), CKR_PIN_INCORRECT);
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_TRUE(info.flags & CKF_SO_PIN_COUNT_LOW);
  ASSERT_EQ(C_CloseAllSessions(0), CKR_OK);
  std::string label(32, ' ');
  // Wrong SO PINs given to C_InitToken count as well.
  EXPECT_EQ(C_InitToken(0, Pin("bad-so-2"), 8, Pin(label.c_str())), CKR_PIN_INCORRECT);
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_TRUE(info.flags & CKF_SO_PIN_FINAL_TRY);
  Restart();  // the counter is in the sealed record
  EXPECT_EQ(C_Login(session_, CKU_SO, Pin("bad-so-3"), 8), CKR_PIN_LOCKED);
  EXPECT_EQ(C_Login(session_, CKU_SO, Pin(kSoPin), sizeof kSoPin - 1), CKR_PIN_LOCKED);
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_TRUE(info.flags & CKF_SO_PIN_LOCKED);
  ASSERT_EQ(C_CloseAllSessions(0), CKR_OK);
  EXPECT_EQ(C_InitToken(0, Pin(kSoPin), sizeof kSoPin - 1, Pin(label.c_str())), CKR_PIN_LOCKED);
  // The user keeps working with the token's keys.
  CK_SESSION_HANDLE s;
  ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s), CKR_OK);
  EXPECT_EQ(C_Login(s, CKU_USER, Pin(kUserPin), sizeof kUserPin - 1), CKR_OK);
}

TEST_F(AbiTest, SetPinChangesTheUserPin) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  ASSERT_EQ(C_SetPIN(session_, Pin(kUserPin), sizeof kUserPin - 1, Pin("changed"), 7), CKR_OK);
  ASSERT_EQ(C_Logout(session_), CKR_OK);
  EXPECT_EQ(LoginUser(), CKR_PIN_INCORRECT);
  EXPECT_EQ(C_Login(session_, CKU_USER, Pin("changed"), 7), CKR_OK);
}

TEST_F(AbiTest, ReinitTokenNeedsSoPinAndNoSessions) {
  std::string label(32, ' ');
  EXPECT_EQ(C_InitToken(0, Pin(kSoPin), sizeof kSoPin - 1, Pin(label.c_str())), CKR_SESSION_EXISTS);
  ASSERT_EQ(C_CloseAllSessions(0), CKR_OK);
  EXPECT_EQ(C_InitToken(0, Pin("wrong-so"), 8, Pin(label.c_str())), CKR_PIN_INCORRECT);
  EXPECT_EQ(C_InitToken(0, Pin(kSoPin), sizeof kSoPin - 1, Pin(label.c_str())), CKR_OK);
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_FALSE(info.flags & CKF_USER_PIN_INITIALIZED);
}

TEST_F(AbiTest, MechanismListAndInfo) {
  CK_ULONG n = 0;
  ASSERT_EQ(C_GetMechanismList(0, nullptr, &n), CKR_OK);
  std::vector<CK_MECHANISM_TYPE> mechs(n);
  ASSERT_EQ(C_GetMechanismList(0, mechs.data(), &n), CKR_OK);
  EXPECT_NE(std::find(mechs.begin(), mechs.end(), CKM_RSA_PKCS_PSS), mechs.end());
  EXPECT_NE(std::find(mechs.begin(), mechs.end(), CKM_AES_KEY_WRAP_PAD), mechs.end());
  CK_MECHANISM_INFO info;
  ASSERT_EQ(C_GetMechanismInfo(0, CKM_ECDSA, &info), CKR_OK);
  EXPECT_TRUE(info.flags & CKF_SIGN);
  EXPECT_EQ(C_GetMechanismInfo(0, CKM_MD5, &info), CKR_MECHANISM_INVALID);
}

TEST_F(AbiTest, ForkedChildMustInitializeAgain) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    CK_SESSION_INFO si;
    int code = 0;
    if (C_GetSessionInfo(session_, &si) != CKR_CRYPTOKI_NOT_INITIALIZED) code |= 1;
    if (C_Initialize(nullptr) != CKR_OK) code |= 2;
    CK_SESSION_HANDLE s;
    if (C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) code |= 4;
    if (C_Login(s, CKU_USER, Pin(kUserPin), sizeof kUserPin - 1) != CKR_OK) code |= 8;
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The parent is unaffected.
  CK_SESSION_INFO si;
  EXPECT_EQ(C_GetSessionInfo(session_, &si), CKR_OK);
}

TEST_F(AbiTest, RandomAndDigest) {
  uint8_t a[32] = {0}, b[32] = {0};
  ASSERT_EQ(C_GenerateRandom(session_, a, sizeof a), CKR_OK);
  ASSERT_EQ(C_GenerateRandom(session_, b, sizeof b), CKR_OK);
  EXPECT_NE(std::memcmp(a, b, 32), 0);
  CK_MECHANISM m = {CKM_SHA256, nullptr, 0};
  ASSERT_EQ(C_DigestInit(session_, &m), CKR_OK);
  EXPECT_EQ(C_DigestInit(session_, &m), CKR_OPERATION_ACTIVE);
  uint8_t abc[] = {'a', 'b', 'c'};
  CK_ULONG len = 0;
  ASSERT_EQ(C_Digest(session_, abc, 3, nullptr, &len), CKR_OK);
  EXPECT_EQ(len, 32u);
  uint8_t small[8];
  len = sizeof small;
  EXPECT_EQ(C_Digest(session_, abc, 3, small, &len), CKR_BUFFER_TOO_SMALL);
  uint8_t out[32];
  len = sizeof out;
  ASSERT_EQ(C_Digest(session_, abc, 3, out, &len), CKR_OK);
  // SHA-256("abc") begins ba7816bf (FIPS 180-2 appendix B.1).
  EXPECT_EQ(out[0], 0xba);
  EXPECT_EQ(out[1], 0x78);
  EXPECT_EQ(out[2], 0x16);
  EXPECT_EQ(out[3], 0xbf);
  EXPECT_EQ(C_Digest(session_, abc, 3, out, &len), CKR_OPERATION_NOT_INITIALIZED);
}

}  // namespace
}  // namespace kmra::token::testing
