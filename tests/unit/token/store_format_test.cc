// A token store written before AES-GCM, HKDF and file reading moved to src/crypto and src/base
// (tests/data/token/store-v1: made through the token's C ABI with the unit tests' platform key, SO
// PIN and user PIN) still opens with the code of today: its record, PIN verifiers, secret key and
// key pair all unseal and work, so existing stores survive an upgrade.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/hex.h"
#include "token_fixture.h"

namespace kmra::token::testing {
namespace {

// TokenTest's helpers and teardown, with the vendored store instead of a new token.
class StoreFormatTest : public TokenTest {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    const std::string store = dir_ + "/store";
    std::filesystem::copy(std::string(KMRA_TEST_DATA) + "/token/store-v1", store,
                          std::filesystem::copy_options::recursive);
    // The store refuses directories others may write to; a checkout's modes are not the token's.
    for (const auto& e : std::filesystem::recursive_directory_iterator(store)) {
      ASSERT_EQ(::chmod(e.path().c_str(), e.is_directory() ? 0700 : 0600), 0) << e.path();
    }
    ASSERT_EQ(::chmod(store.c_str(), 0700), 0);
    const std::string conf = dir_ + "/token.conf";
    std::ofstream(conf) << "token_dir = \"" << store << "\"\nplatform = \"sim\"\n"
                        << "platform_dir = \"" << dir_ << "/unused\"\nmax_pin_failures = 3\n";
    setenv("KMRA_TOKEN_CONF", conf.c_str(), 1);
    setenv("KMRA_TOKEN_QUIET", "1", 1);
    UsePlatformKey(7);  // the key the store was sealed under
    ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
    ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session_),
              CKR_OK);
  }

  CK_OBJECT_HANDLE FindOne(CK_OBJECT_CLASS cls, const std::string& label) {
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                        {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (C_FindObjectsInit(session_, t, 2) != CKR_OK) return CK_INVALID_HANDLE;
    C_FindObjects(session_, &h, 1, &n);
    C_FindObjectsFinal(session_);
    return n == 1 ? h : CK_INVALID_HANDLE;
  }
};

TEST_F(StoreFormatTest, AStoreOfTheFirstFormatOpensAndItsKeysWork) {
  CK_TOKEN_INFO info{};
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(info.label), 4), "unit");
  EXPECT_NE(info.flags & CKF_USER_PIN_INITIALIZED, 0u);

  // The PIN verifiers unsealed: the wrong PIN is refused, the right one accepted.
  const std::string wrong = "not-the-pin";
  EXPECT_EQ(C_Login(session_, CKU_USER, Pin(wrong.c_str()), wrong.size()), CKR_PIN_INCORRECT);
  ASSERT_EQ(C_Login(session_, CKU_USER, Pin(kUserPin), sizeof kUserPin - 1), CKR_OK);

  // The AES key (value a0 a1 ... bf) unsealed: AES-GCM gives what any implementation gives.
  CK_OBJECT_HANDLE aes = FindOne(CKO_SECRET_KEY, "v1-aes");
  ASSERT_NE(aes, CK_INVALID_HANDLE);
  uint8_t iv[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  uint8_t aad[] = {'v', '1'};
  CK_GCM_PARAMS g = {iv, sizeof iv, 96, aad, sizeof aad, 128};
  CK_MECHANISM gcm = {CKM_AES_GCM, &g, sizeof g};
  const std::string msg = "stored by v1";
  std::vector<uint8_t> ct(msg.size() + 16);
  CK_ULONG len = ct.size();
  ASSERT_EQ(C_EncryptInit(session_, &gcm, aes), CKR_OK);
  ASSERT_EQ(C_Encrypt(session_, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(msg.data())),
                      msg.size(), ct.data(), &len),
            CKR_OK);
  ct.resize(len);
  EXPECT_EQ(HexEncode(ct), "4d98a60598769a97b74e39780e45cc059d378170aa155cf2154d912a");

  // The key pair unsealed: a signature of the private key verifies under the public key.
  CK_OBJECT_HANDLE priv = FindOne(CKO_PRIVATE_KEY, "v1-ec");
  CK_OBJECT_HANDLE pub = FindOne(CKO_PUBLIC_KEY, "v1-ec");
  ASSERT_NE(priv, CK_INVALID_HANDLE);
  ASSERT_NE(pub, CK_INVALID_HANDLE);
  CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, nullptr, 0};
  std::vector<uint8_t> sig(64);
  CK_ULONG sig_len = sig.size();
  ASSERT_EQ(C_SignInit(session_, &ecdsa, priv), CKR_OK);
  ASSERT_EQ(C_Sign(session_, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(msg.data())),
                   msg.size(), sig.data(), &sig_len),
            CKR_OK);
  ASSERT_EQ(C_VerifyInit(session_, &ecdsa, pub), CKR_OK);
  EXPECT_EQ(C_Verify(session_, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(msg.data())),
                     msg.size(), sig.data(), sig_len),
            CKR_OK);
}

TEST_F(StoreFormatTest, TheStoreRefusesAnotherPlatformKey) {
  // The same files under another sealing key: nothing unseals, the token says so instead of
  // looking new.
  C_Finalize(nullptr);
  UsePlatformKey(8);
  EXPECT_EQ(C_Initialize(nullptr), CKR_FUNCTION_FAILED);
  UsePlatformKey(7);
  ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
  CK_TOKEN_INFO info{};
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_NE(info.flags & CKF_TOKEN_INITIALIZED, 0u);
}

}  // namespace
}  // namespace kmra::token::testing
