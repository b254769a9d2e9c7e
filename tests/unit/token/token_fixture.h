// Test fixture for the token's C ABI: a fresh token directory and config per test, a test
// platform (fixed sealing key, quotes that carry the report data), an initialised token with an
// SO PIN and a user PIN, and helpers to call the module.
#pragma once

#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "enclave/platform.h"
#include "token/module.h"

namespace kmra::token::testing {

inline constexpr char kSoPin[] = "so-secret";
inline constexpr char kUserPin[] = "user-1234";

// A platform for unit tests only: a sealing key chosen by the test, and a "quote" that is a
// fixed header followed by the 64 bytes of report data (the real SimPlatform is used by the
// integration tests).
class TestPlatform : public enclave::Platform {
 public:
  explicit TestPlatform(uint8_t key_byte) : key_byte_(key_byte) {}
  Result<std::vector<uint8_t>> Quote(std::span<const uint8_t, 64> report_data) override {
    std::vector<uint8_t> q = {'T', 'Q', 'U', 'O', 'T', 'E'};
    q.insert(q.end(), report_data.begin(), report_data.end());
    return q;
  }
  Result<SecretBytes> SealingKey() override {
    SecretBytes k(32);
    for (auto& b : k.RevealMutable()) b = key_byte_;
    return k;
  }
  enclave::PlatformIdentity Identity() const override { return {}; }

 private:
  uint8_t key_byte_;
};

inline std::string MakeTempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "kmra-token-XXXXXX").string();
  char* d = mkdtemp(tmpl.data());
  return d == nullptr ? std::string() : std::string(d);
}

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    WriteConfig("max_pin_failures = 3\n");
    setenv("KMRA_TOKEN_QUIET", "1", 1);
    UsePlatformKey(7);
    ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
    std::string label = "unit";
    label.resize(32, ' ');
    ASSERT_EQ(C_InitToken(0, Pin(kSoPin), sizeof kSoPin - 1, Pin(label.c_str())), CKR_OK);
    CK_SESSION_HANDLE so;
    ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &so), CKR_OK);
    ASSERT_EQ(C_Login(so, CKU_SO, Pin(kSoPin), sizeof kSoPin - 1), CKR_OK);
    ASSERT_EQ(C_InitPIN(so, Pin(kUserPin), sizeof kUserPin - 1), CKR_OK);
    ASSERT_EQ(C_CloseSession(so), CKR_OK);
    ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session_),
              CKR_OK);
  }

  void TearDown() override {
    C_Finalize(nullptr);
    SetPlatformOpenerForTesting(nullptr);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void WriteConfig(const std::string& extra) {
    conf_ = dir_ + "/token.conf";
    std::ofstream(conf_) << "token_dir = \"" << dir_ << "/store\"\nplatform = \"sim\"\n"
                         << "platform_dir = \"" << dir_ << "/unused\"\n" << extra;
    setenv("KMRA_TOKEN_CONF", conf_.c_str(), 1);
  }

  static void UsePlatformKey(uint8_t b) {
    SetPlatformOpenerForTesting([b](const TokenConfig&, const std::string&)
                                    -> Result<std::unique_ptr<enclave::Platform>> {
      return std::unique_ptr<enclave::Platform>(new TestPlatform(b));
    });
  }

  static CK_UTF8CHAR_PTR Pin(const char* s) {
    return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s));
  }

  CK_RV LoginUser() { return C_Login(session_, CKU_USER, Pin(kUserPin), sizeof kUserPin - 1); }

  // Re-opens the module as a new process would (C_Finalize + C_Initialize).
  void Restart() {
    ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
    ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
    ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session_),
              CKR_OK);
  }

  // Finds objects matching a template.
  std::vector<CK_OBJECT_HANDLE> Find(std::vector<CK_ATTRIBUTE> tmpl) {
    std::vector<CK_OBJECT_HANDLE> out;
    if (C_FindObjectsInit(session_, tmpl.data(), tmpl.size()) != CKR_OK) return out;
    CK_OBJECT_HANDLE h[16];
    CK_ULONG n = 0;
    while (C_FindObjects(session_, h, 16, &n) == CKR_OK && n > 0) out.insert(out.end(), h, h + n);
    C_FindObjectsFinal(session_);
    return out;
  }

  // Reads one attribute (size query, then fill).
  std::vector<uint8_t> Attr(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE a = {type, nullptr, 0};
    if (C_GetAttributeValue(session_, h, &a, 1) != CKR_OK) return {};
    std::vector<uint8_t> v(a.ulValueLen);
    a.pValue = v.data();
    if (C_GetAttributeValue(session_, h, &a, 1) != CKR_OK) return {};
    v.resize(a.ulValueLen);
    return v;
  }

  // Generates a key pair; bits = 0 means EC P-256.
  CK_RV GenerateKeyPair(CK_ULONG bits, bool token, const std::string& label,
                        CK_OBJECT_HANDLE* pub, CK_OBJECT_HANDLE* priv) {
    CK_BBOOL yes = CK_TRUE, tok = token ? CK_TRUE : CK_FALSE;
    static const uint8_t kP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    uint8_t id[] = {0x42};
    std::vector<CK_ATTRIBUTE> pub_t = {{CKA_TOKEN, &tok, 1},
                                       {CKA_VERIFY, &yes, 1},
                                       {CKA_ENCRYPT, &yes, 1},
                                       {CKA_WRAP, &yes, 1},
                                       {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
                                       {CKA_ID, id, 1}};
    if (bits != 0) {
      pub_t.push_back({CKA_MODULUS_BITS, &bits, sizeof bits});
    } else {
      pub_t.push_back({CKA_EC_PARAMS, const_cast<uint8_t*>(kP256), sizeof kP256});
    }
    std::vector<CK_ATTRIBUTE> priv_t = {{CKA_TOKEN, &tok, 1},
                                        {CKA_SIGN, &yes, 1},
                                        {CKA_DECRYPT, &yes, 1},
                                        {CKA_UNWRAP, &yes, 1},
                                        {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
                                        {CKA_ID, id, 1}};
    CK_MECHANISM m = {bits != 0 ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    return C_GenerateKeyPair(session_, &m, pub_t.data(), pub_t.size(), priv_t.data(), priv_t.size(),
                             pub, priv);
  }

  std::string dir_;
  std::string conf_;
  CK_SESSION_HANDLE session_ = 0;
};

}  // namespace kmra::token::testing
