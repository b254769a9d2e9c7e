// Intel's trusted-certificate-issuer (a CTK + KMRA client) replayed call for call: its templates
// ask for an extractable quote key with DECRYPT and SIGN and for a non-sensitive, extractable SWK.
// The sequence works unchanged, the weakening parts are overridden (said in the debug log), the
// released key signs, and nothing of the SWK or the key can be read or wrapped out, before or after
// a restart.
#include <openssl/evp.h>

#include <cstdlib>

#include "security/custody/custody_fixture.h"

namespace kmra::security {
namespace {

class CtkReplay : public CustodyTest {
 protected:
  void Replay(Wrap wrap) {
    setenv("KMRA_TOKEN_DEBUG", "1", 1);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = 3072;
    char quote_label[] = "ctk-quote-key";
    CK_ATTRIBUTE pub_t[] = {{CKA_TOKEN, &no, 1},
                            {CKA_ENCRYPT, &yes, 1},
                            {CKA_VERIFY, &yes, 1},
                            {CKA_WRAP, &yes, 1},
                            {CKA_MODULUS_BITS, &bits, sizeof bits},
                            {CKA_LABEL, quote_label, sizeof quote_label - 1}};
    CK_ATTRIBUTE priv_t[] = {{CKA_TOKEN, &no, 1},
                             {CKA_DECRYPT, &yes, 1},
                             {CKA_SIGN, &yes, 1},
                             {CKA_UNWRAP, &yes, 1},
                             {CKA_EXTRACTABLE, &yes, 1}};
    CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    Pair pair;
    ASSERT_EQ(p11()->C_GenerateKeyPair(session_, &gen, pub_t, 6, priv_t, 5, &pair.pub, &pair.priv),
              CKR_OK);
    Bytes n, e;
    ASSERT_EQ(Quote(pair.pub, &n, &e), CKR_OK);
    ASSERT_EQ(n.size(), 384u);
    const std::string quote_log = NewLog();
    for (const char* attr : {"CKA_DECRYPT", "CKA_SIGN", "CKA_EXTRACTABLE"}) {
      EXPECT_NE(quote_log.find(std::string(attr) + " overridden"), std::string::npos) << quote_log;
    }
    Release r = MakeRelease(n, e, KeyKind::kRsa, wrap);

    CK_OBJECT_CLASS secret = CKO_SECRET_KEY, priv_cls = CKO_PRIVATE_KEY, pub_cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE aes = CKK_AES, rsa = CKK_RSA;
    CK_ATTRIBUTE swk_t[] = {{CKA_CLASS, &secret, sizeof secret},
                            {CKA_KEY_TYPE, &aes, sizeof aes},
                            {CKA_TOKEN, &no, 1},
                            {CKA_SENSITIVE, &no, 1},
                            {CKA_EXTRACTABLE, &yes, 1},
                            {CKA_UNWRAP, &yes, 1}};
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM m_oaep = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
    CK_OBJECT_HANDLE swk;
    ASSERT_EQ(p11()->C_UnwrapKey(session_, &m_oaep, pair.priv, r.wrapped_swk.data(),
                                 r.wrapped_swk.size(), swk_t, 6, &swk),
              CKR_OK);
    const std::string swk_log = NewLog();
    EXPECT_NE(swk_log.find("CKA_SENSITIVE overridden to true"), std::string::npos) << swk_log;
    EXPECT_NE(swk_log.find("CKA_EXTRACTABLE overridden to false"), std::string::npos) << swk_log;
    EXPECT_EQ(Read(swk, CKA_VALUE), CKR_ATTRIBUTE_SENSITIVE);
    EXPECT_NE(WrapOut(AttackerAesKey(), swk), CKR_OK);

    char label[] = "ctk-released";
    uint8_t id[] = {0xc7, 0x1c};
    CK_ATTRIBUTE key_t[] = {{CKA_CLASS, &priv_cls, sizeof priv_cls},
                            {CKA_KEY_TYPE, &rsa, sizeof rsa},
                            {CKA_LABEL, label, sizeof label - 1},
                            {CKA_TOKEN, &yes, 1},
                            {CKA_PRIVATE, &yes, 1},
                            {CKA_DECRYPT, &yes, 1},
                            {CKA_SIGN, &yes, 1},
                            {CKA_UNWRAP, &no, 1},
                            {CKA_SENSITIVE, &yes, 1},
                            {CKA_EXTRACTABLE, &no, 1},
                            {CKA_ID, id, sizeof id}};
    CK_MECHANISM m_key = {wrap == Wrap::kKwp ? CKM_AES_KEY_WRAP_PAD : CKM_AES_GCM, nullptr, 0};
    CK_OBJECT_HANDLE key;
    ASSERT_EQ(p11()->C_UnwrapKey(session_, &m_key, swk, r.wrapped_key.data(), r.wrapped_key.size(),
                                 key_t, 11, &key),
              CKR_OK);
    // The client reads the public half of the key and makes the public key object.
    Bytes modulus, exponent;
    ASSERT_EQ(Read(key, CKA_MODULUS, &modulus), CKR_OK);
    ASSERT_EQ(Read(key, CKA_PUBLIC_EXPONENT, &exponent), CKR_OK);
    CK_ATTRIBUTE pub_obj[] = {{CKA_CLASS, &pub_cls, sizeof pub_cls},
                              {CKA_KEY_TYPE, &rsa, sizeof rsa},
                              {CKA_TOKEN, &yes, 1},
                              {CKA_LABEL, label, sizeof label - 1},
                              {CKA_ID, id, sizeof id},
                              {CKA_MODULUS, modulus.data(), modulus.size()},
                              {CKA_PUBLIC_EXPONENT, exponent.data(), exponent.size()}};
    CK_OBJECT_HANDLE pub_key;
    ASSERT_EQ(p11()->C_CreateObject(session_, pub_obj, 7, &pub_key), CKR_OK);
    unsetenv("KMRA_TOKEN_DEBUG");

    ExpectSigns(key, r);
    EXPECT_EQ(Custody(key), KMRA_CUSTODY_RELEASED);
    EXPECT_EQ(Read(pair.priv, CKA_CLASS), CKR_OBJECT_HANDLE_INVALID);
    EXPECT_EQ(Read(swk, CKA_CLASS), CKR_OBJECT_HANDLE_INVALID);
    for (auto type : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2}) {
      Bytes v;
      EXPECT_EQ(Read(key, type, &v), CKR_ATTRIBUTE_SENSITIVE);
      EXPECT_FALSE(Contains(v, r.key_secrets));
    }
    EXPECT_EQ(WrapOut(AttackerAesKey(), key), CKR_KEY_UNEXTRACTABLE);

    // A new process (NGINX's worker) finds the key with its custody mark and its limits.
    ASSERT_EQ(p11()->C_Finalize(nullptr), CKR_OK);
    ASSERT_EQ(p11()->C_Initialize(nullptr), CKR_OK);
    session_ = 0;
    SetUp();
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &priv_cls, sizeof priv_cls},
                           {CKA_LABEL, label, sizeof label - 1}};
    ASSERT_EQ(p11()->C_FindObjectsInit(session_, find, 2), CKR_OK);
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    ASSERT_EQ(p11()->C_FindObjects(session_, found, 2, &count), CKR_OK);
    p11()->C_FindObjectsFinal(session_);
    ASSERT_EQ(count, 1u);
    EXPECT_EQ(Custody(found[0]), KMRA_CUSTODY_RELEASED);
    EXPECT_EQ(Read(found[0], CKA_PRIVATE_EXPONENT), CKR_ATTRIBUTE_SENSITIVE);
    EXPECT_EQ(WrapOut(AttackerAesKey(), found[0]), CKR_KEY_UNEXTRACTABLE);
    EXPECT_EQ(SetBool(found[0], CKA_EXTRACTABLE, true), CKR_ATTRIBUTE_READ_ONLY);
    ExpectSigns(found[0], r);
    EXPECT_EQ(p11()->C_DestroyObject(session_, found[0]), CKR_OK);
    CK_ATTRIBUTE find_pub[] = {{CKA_CLASS, &pub_cls, sizeof pub_cls},
                               {CKA_LABEL, label, sizeof label - 1}};
    ASSERT_EQ(p11()->C_FindObjectsInit(session_, find_pub, 2), CKR_OK);
    ASSERT_EQ(p11()->C_FindObjects(session_, found, 2, &count), CKR_OK);
    p11()->C_FindObjectsFinal(session_);
    for (CK_ULONG i = 0; i < count; ++i) p11()->C_DestroyObject(session_, found[i]);
  }
};

TEST_F(CtkReplay, TheCtkClientSequenceWorksUnchangedAndKeepsCustodyWithKwp) { Replay(Wrap::kKwp); }

TEST_F(CtkReplay, TheCtkClientSequenceWorksUnchangedAndKeepsCustodyWithGcm) { Replay(Wrap::kGcm); }

}  // namespace
}  // namespace kmra::security
