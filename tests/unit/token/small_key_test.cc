// RSA keys too small for the parameters a caller asks for: PSS and OAEP answer a clean CKR_*
// at Init (never an OpenSSL failure later, never a crash), and what fits still works.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "token_fixture.h"

namespace kmra::token::testing {
namespace {

std::vector<uint8_t> Param(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) return {};
  std::vector<uint8_t> v(BN_num_bytes(bn));
  BN_bn2bin(bn, v.data());
  BN_free(bn);
  return v;
}

class SmallKeys : public TokenTest {
 protected:
  // Imports a fresh RSA key of `bits` as a private key object (with SIGN, DECRYPT) and its
  // public key object (VERIFY, ENCRYPT).
  void Import(unsigned bits) {
    EVP_PKEY* k = EVP_RSA_gen(bits);
    ASSERT_NE(k, nullptr);
    std::vector<std::vector<uint8_t>> v;
    for (const char* n :
         {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
          OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
          OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1}) {
      v.push_back(Param(k, n));
    }
    EVP_PKEY_free(k);
    CK_OBJECT_CLASS priv_c = CKO_PRIVATE_KEY, pub_c = CKO_PUBLIC_KEY;
    CK_KEY_TYPE rsa = CKK_RSA;
    CK_BBOOL yes = CK_TRUE;
    std::vector<CK_ATTRIBUTE> priv_t = {{CKA_CLASS, &priv_c, sizeof priv_c},
                                        {CKA_KEY_TYPE, &rsa, sizeof rsa},
                                        {CKA_SIGN, &yes, 1},
                                        {CKA_DECRYPT, &yes, 1},
                                        {CKA_MODULUS, v[0].data(), v[0].size()},
                                        {CKA_PUBLIC_EXPONENT, v[1].data(), v[1].size()},
                                        {CKA_PRIVATE_EXPONENT, v[2].data(), v[2].size()},
                                        {CKA_PRIME_1, v[3].data(), v[3].size()},
                                        {CKA_PRIME_2, v[4].data(), v[4].size()},
                                        {CKA_EXPONENT_1, v[5].data(), v[5].size()},
                                        {CKA_EXPONENT_2, v[6].data(), v[6].size()},
                                        {CKA_COEFFICIENT, v[7].data(), v[7].size()}};
    ASSERT_EQ(C_CreateObject(session_, priv_t.data(), priv_t.size(), &priv_), CKR_OK);
    std::vector<CK_ATTRIBUTE> pub_t = {{CKA_CLASS, &pub_c, sizeof pub_c},
                                       {CKA_KEY_TYPE, &rsa, sizeof rsa},
                                       {CKA_VERIFY, &yes, 1},
                                       {CKA_ENCRYPT, &yes, 1},
                                       {CKA_MODULUS, v[0].data(), v[0].size()},
                                       {CKA_PUBLIC_EXPONENT, v[1].data(), v[1].size()}};
    ASSERT_EQ(C_CreateObject(session_, pub_t.data(), pub_t.size(), &pub_), CKR_OK);
  }

  CK_RV PssInit(CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash, CK_RSA_PKCS_MGF_TYPE mgf,
                CK_ULONG salt, bool verify = false) {
    CK_RSA_PKCS_PSS_PARAMS p = {hash, mgf, salt};
    CK_MECHANISM m = {mech, &p, sizeof p};
    return verify ? C_VerifyInit(session_, &m, pub_) : C_SignInit(session_, &m, priv_);
  }

  // Signs and verifies "message" with a PSS mechanism the key can take.
  void SignAndVerify(CK_MECHANISM_TYPE hash, CK_RSA_PKCS_MGF_TYPE mgf, CK_ULONG salt) {
    uint8_t msg[] = "message";
    ASSERT_EQ(PssInit(CKM_SHA256_RSA_PKCS_PSS, hash, mgf, salt), CKR_OK);
    std::vector<uint8_t> sig(1024);
    CK_ULONG len = sig.size();
    ASSERT_EQ(C_Sign(session_, msg, sizeof msg, sig.data(), &len), CKR_OK);
    ASSERT_EQ(PssInit(CKM_SHA256_RSA_PKCS_PSS, hash, mgf, salt, true), CKR_OK);
    EXPECT_EQ(C_Verify(session_, msg, sizeof msg, sig.data(), len), CKR_OK);
  }

  CK_OBJECT_HANDLE priv_ = 0, pub_ = 0;
};

TEST_F(SmallKeys, Pss512BitKey) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  ASSERT_NO_FATAL_FAILURE(Import(512));
  // 64-byte modulus: SHA-512 (64 + 2 bytes) cannot fit at all.
  EXPECT_EQ(PssInit(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 0), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(PssInit(CKM_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 0), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(PssInit(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 0, true),
            CKR_KEY_SIZE_RANGE);
  // SHA-256: at most 64 - 32 - 2 = 30 salt bytes.
  EXPECT_EQ(PssInit(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 31),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(PssInit(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, ~0UL),
            CKR_MECHANISM_PARAM_INVALID);
  // The mechanism's hash and hashAlg must agree; unknown MGFs are refused.
  EXPECT_EQ(PssInit(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA256, 0),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(PssInit(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, 0x999, 0), CKR_MECHANISM_PARAM_INVALID);
  // What fits works, an MGF1 hash other than the message hash included.
  SignAndVerify(CKM_SHA256, CKG_MGF1_SHA256, 30);
  SignAndVerify(CKM_SHA256, CKG_MGF1_SHA1, 0);
}

TEST_F(SmallKeys, PssKeyWhoseTopByteHoldsOneBit) {
  // 1025 bits: the PSS encoding is one byte shorter than the modulus (emLen = 128, k = 129), so
  // the largest SHA-256 salt is 128 - 34 = 94, not 95.
  ASSERT_EQ(LoginUser(), CKR_OK);
  ASSERT_NO_FATAL_FAILURE(Import(1025));
  EXPECT_EQ(PssInit(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 95),
            CKR_MECHANISM_PARAM_INVALID);
  SignAndVerify(CKM_SHA256, CKG_MGF1_SHA256, 94);
}

TEST_F(SmallKeys, OaepNeedsTwoHashesInTheModulus) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  ASSERT_NO_FATAL_FAILURE(Import(512));
  CK_RSA_PKCS_OAEP_PARAMS big = {CKM_SHA512, CKG_MGF1_SHA512, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &big, sizeof big};
  EXPECT_EQ(C_EncryptInit(session_, &m, pub_), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(C_DecryptInit(session_, &m, priv_), CKR_KEY_SIZE_RANGE);
  // SHA-1 fits (2 * 20 + 2 <= 64): a round trip.
  CK_RSA_PKCS_OAEP_PARAMS small = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  m.pParameter = &small;
  m.ulParameterLen = sizeof small;
  uint8_t msg[] = "hi";
  std::vector<uint8_t> ct(64), pt(64);
  CK_ULONG ct_len = ct.size(), pt_len = pt.size();
  ASSERT_EQ(C_EncryptInit(session_, &m, pub_), CKR_OK);
  ASSERT_EQ(C_Encrypt(session_, msg, sizeof msg, ct.data(), &ct_len), CKR_OK);
  ASSERT_EQ(C_DecryptInit(session_, &m, priv_), CKR_OK);
  ASSERT_EQ(C_Decrypt(session_, ct.data(), ct_len, pt.data(), &pt_len), CKR_OK);
  EXPECT_EQ(std::vector<uint8_t>(pt.begin(), pt.begin() + pt_len),
            std::vector<uint8_t>(msg, msg + sizeof msg));
}

TEST_F(SmallKeys, TextbookKeyGetsCleanErrorsFromEveryMechanism) {
  // n = 61 * 53 = 3233 (12 bits), e = 17, d = 2753, with its CRT values: far below anything
  // OpenSSL would generate.
  ASSERT_EQ(LoginUser(), CKR_OK);
  CK_OBJECT_CLASS priv_c = CKO_PRIVATE_KEY;
  CK_KEY_TYPE rsa = CKK_RSA;
  CK_BBOOL yes = CK_TRUE;
  uint8_t n[] = {0x0c, 0xa1}, e[] = {0x11}, d[] = {0x0a, 0xc1}, p[] = {61}, q[] = {53}, dp[] = {53},
          dq[] = {49}, qinv[] = {38};
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &priv_c, sizeof priv_c},
                      {CKA_KEY_TYPE, &rsa, sizeof rsa},
                      {CKA_SIGN, &yes, 1},
                      {CKA_DECRYPT, &yes, 1},
                      {CKA_MODULUS, n, sizeof n},
                      {CKA_PUBLIC_EXPONENT, e, sizeof e},
                      {CKA_PRIVATE_EXPONENT, d, sizeof d},
                      {CKA_PRIME_1, p, 1},
                      {CKA_PRIME_2, q, 1},
                      {CKA_EXPONENT_1, dp, 1},
                      {CKA_EXPONENT_2, dq, 1},
                      {CKA_COEFFICIENT, qinv, 1}};
  CK_OBJECT_HANDLE tiny;
  CK_RV rv = C_CreateObject(session_, t, 12, &tiny);
  if (rv != CKR_OK) {
    ADD_FAILURE() << "the textbook key was refused (" << rv << "); nothing below ran";
    return;
  }
  CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 0};
  CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  const std::vector<CK_MECHANISM> mechs = {{CKM_RSA_PKCS, nullptr, 0},
                                           {CKM_SHA256_RSA_PKCS, nullptr, 0},
                                           {CKM_RSA_X_509, nullptr, 0},
                                           {CKM_RSA_PKCS_PSS, &pss, sizeof pss},
                                           {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss}};
  uint8_t data[32] = {1};
  for (CK_MECHANISM m : mechs) {
    CK_RV init = C_SignInit(session_, &m, tiny);
    if (init != CKR_OK) {
      EXPECT_EQ(init, CKR_KEY_SIZE_RANGE) << m.mechanism;
      continue;
    }
    std::vector<uint8_t> sig(64);
    CK_ULONG len = sig.size();
    CK_RV sign =
        C_Sign(session_, data, m.mechanism == CKM_RSA_X_509 ? 1 : sizeof data, sig.data(), &len);
    EXPECT_TRUE(sign == CKR_OK || sign == CKR_DATA_LEN_RANGE || sign == CKR_FUNCTION_FAILED ||
                sign == CKR_KEY_SIZE_RANGE)
        << m.mechanism << " " << sign;
  }
  CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
  EXPECT_EQ(C_DecryptInit(session_, &m, tiny), CKR_KEY_SIZE_RANGE);
  // The token still works with a real key.
  ASSERT_NO_FATAL_FAILURE(Import(2048));
  SignAndVerify(CKM_SHA256, CKG_MGF1_SHA256, 32);
}

}  // namespace
}  // namespace kmra::token::testing
