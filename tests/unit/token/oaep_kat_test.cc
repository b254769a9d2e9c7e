// Wycheproof RSA-OAEP vectors (tests/data/kat/wycheproof) through the token's own C_Decrypt and
// C_UnwrapKey with CKM_RSA_PKCS_OAEP: the code that opens the wrapped SWK of every key release.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/hex.h"
#include "crypto/ossl.h"
#include "token_fixture.h"

namespace kmra::token::testing {
namespace {

std::vector<uint8_t> Unhex(const std::string& hex) {
  auto b = HexDecode(hex);
  EXPECT_TRUE(b) << hex;
  return b ? *b : std::vector<uint8_t>{};
}

class OaepKatTest : public TokenTest {
 protected:
  void SetUp() override {
    TokenTest::SetUp();
    ASSERT_EQ(LoginUser(), CKR_OK);
  }

  nlohmann::json Load(const std::string& name) {
    auto text = ReadFileText(std::string(KMRA_TEST_DATA) + "/kat/wycheproof/" + name);
    EXPECT_TRUE(text);
    return text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
  }

  // Imports the group's private key (PKCS#8) into the token from its RSA components.
  CK_OBJECT_HANDLE Import(const std::vector<uint8_t>& pkcs8) {
    const unsigned char* p = pkcs8.data();
    ossl::Ptr<EVP_PKEY> pkey(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(pkcs8.size())));
    if (!pkey) return CK_INVALID_HANDLE;
    const std::pair<const char*, CK_ATTRIBUTE_TYPE> parts[] = {
        {OSSL_PKEY_PARAM_RSA_N, CKA_MODULUS},
        {OSSL_PKEY_PARAM_RSA_E, CKA_PUBLIC_EXPONENT},
        {OSSL_PKEY_PARAM_RSA_D, CKA_PRIVATE_EXPONENT},
        {OSSL_PKEY_PARAM_RSA_FACTOR1, CKA_PRIME_1},
        {OSSL_PKEY_PARAM_RSA_FACTOR2, CKA_PRIME_2},
        {OSSL_PKEY_PARAM_RSA_EXPONENT1, CKA_EXPONENT_1},
        {OSSL_PKEY_PARAM_RSA_EXPONENT2, CKA_EXPONENT_2},
        {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, CKA_COEFFICIENT}};
    std::vector<std::vector<uint8_t>> values;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE;
    std::vector<CK_ATTRIBUTE> t = {{CKA_CLASS, &cls, sizeof cls},
                                   {CKA_KEY_TYPE, &kt, sizeof kt},
                                   {CKA_DECRYPT, &yes, 1},
                                   {CKA_UNWRAP, &yes, 1}};
    values.reserve(std::size(parts));
    for (const auto& [name, type] : parts) {
      BIGNUM* bn = nullptr;
      if (EVP_PKEY_get_bn_param(pkey.get(), name, &bn) != 1) return CK_INVALID_HANDLE;
      values.emplace_back(static_cast<size_t>(BN_num_bytes(bn)));
      BN_bn2bin(bn, values.back().data());
      BN_clear_free(bn);
      t.push_back({type, values.back().data(), values.back().size()});
    }
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_EQ(C_CreateObject(session_, t.data(), t.size(), &h), CKR_OK);
    return h;
  }

  // Runs every test of the file through C_Decrypt; returns the number of valid and invalid cases.
  std::pair<int, int> Run(const std::string& file, CK_MECHANISM_TYPE hash,
                          CK_RSA_PKCS_MGF_TYPE mgf) {
    int valid = 0, invalid = 0;
    auto doc = Load(file);
    for (const auto& group : doc.at("testGroups")) {
      CK_OBJECT_HANDLE key = Import(Unhex(group.at("privateKeyPkcs8").get<std::string>()));
      EXPECT_NE(key, CK_INVALID_HANDLE);
      for (const auto& t : group.at("tests")) {
        SCOPED_TRACE("tcId " + std::to_string(t.at("tcId").get<int>()));
        auto label = Unhex(t.at("label").get<std::string>());
        auto ct = Unhex(t.at("ct").get<std::string>());
        CK_RSA_PKCS_OAEP_PARAMS p = {hash, mgf, CKZ_DATA_SPECIFIED,
                                     label.empty() ? nullptr : label.data(), label.size()};
        CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &p, sizeof p};
        EXPECT_EQ(C_DecryptInit(session_, &m, key), CKR_OK);
        std::vector<uint8_t> pt(256);
        CK_ULONG len = pt.size();
        CK_RV rv = C_Decrypt(session_, ct.data(), ct.size(), pt.data(), &len);
        if (t.at("result") == "valid") {
          EXPECT_EQ(rv, CKR_OK);
          pt.resize(rv == CKR_OK ? len : 0);
          EXPECT_EQ(HexEncode(pt), t.at("msg").get<std::string>());
          ++valid;
        } else {
          EXPECT_NE(rv, CKR_OK) << "an invalid OAEP ciphertext was decrypted";
          ++invalid;
        }
      }
    }
    return {valid, invalid};
  }
};

TEST_F(OaepKatTest, Sha1Mgf1Sha1AsKmraClientsUnwrap) {
  auto [valid, invalid] = Run("rsa_oaep_2048_sha1_mgf1sha1_test.json", CKM_SHA_1, CKG_MGF1_SHA1);
  EXPECT_GE(valid, 9);
  EXPECT_GE(invalid, 9);
}

TEST_F(OaepKatTest, Sha256Mgf1Sha256) {
  auto [valid, invalid] =
      Run("rsa_oaep_2048_sha256_mgf1sha256_test.json", CKM_SHA256, CKG_MGF1_SHA256);
  EXPECT_EQ(valid, 7);
  EXPECT_EQ(invalid, 0);
}

TEST_F(OaepKatTest, TheWycheproofKeyUnwrapsASecretKeyOnTheReleasePath) {
  // tcId 7 of the SHA-1 file: a 32-byte message, as an AES-256 SWK would be.
  auto doc = Load("rsa_oaep_2048_sha1_mgf1sha1_test.json");
  const auto& group = doc.at("testGroups").at(0);
  CK_OBJECT_HANDLE key = Import(Unhex(group.at("privateKeyPkcs8").get<std::string>()));
  ASSERT_NE(key, CK_INVALID_HANDLE);
  const nlohmann::json* tc7 = nullptr;
  for (const auto& t : group.at("tests")) {
    if (t.at("tcId") == 7) tc7 = &t;
  }
  ASSERT_NE(tc7, nullptr);
  auto ct = Unhex(tc7->at("ct").get<std::string>());
  CK_RSA_PKCS_OAEP_PARAMS p = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &p, sizeof p};
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                      {CKA_KEY_TYPE, &kt, sizeof kt},
                      {CKA_ENCRYPT, &yes, 1},
                      {CKA_EXTRACTABLE, &yes, 1},
                      {CKA_SENSITIVE, &yes, 1}};
  // One bit changed: refused (and the session key stays for the next try).
  ct[100] ^= 1;
  CK_OBJECT_HANDLE none = CK_INVALID_HANDLE;
  EXPECT_EQ(C_UnwrapKey(session_, &m, key, ct.data(), ct.size(), t, 5, &none),
            CKR_WRAPPED_KEY_INVALID);
  ct[100] ^= 1;
  CK_OBJECT_HANDLE swk = CK_INVALID_HANDLE;
  ASSERT_EQ(C_UnwrapKey(session_, &m, key, ct.data(), ct.size(), t, 5, &swk), CKR_OK);
  CK_ULONG value_len = 0;
  CK_ATTRIBUTE a = {CKA_VALUE_LEN, &value_len, sizeof value_len};
  ASSERT_EQ(C_GetAttributeValue(session_, swk, &a, 1), CKR_OK);
  EXPECT_EQ(value_len, 32u);
}

}  // namespace
}  // namespace kmra::token::testing
