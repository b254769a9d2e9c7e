// What the attestation key unwraps (the SWK) and what the SWK unwraps (the released key): the host
// attacker tries weaker templates, other key types, other mechanisms, other uses and reads. Each
// attempt is refused (or its weakening overridden) and the legitimate release still works.
#include <openssl/evp.h>

#include <atomic>
#include <thread>

#include "security/custody/custody_fixture.h"

namespace kmra::security {
namespace {

CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
CK_OBJECT_CLASS secret_cls = CKO_SECRET_KEY, private_cls = CKO_PRIVATE_KEY;
CK_KEY_TYPE aes = CKK_AES, generic = CKK_GENERIC_SECRET, rsa = CKK_RSA, ec = CKK_EC;

class ReleaseCustody : public CustodyTest {
 protected:
  // A quoted pair and the server's release to it.
  void QuotedRelease(Pair& pair, Release& r, KeyKind kind = KeyKind::kRsa, Wrap wrap = Wrap::kKwp) {
    ASSERT_EQ(GeneratePair(PairTemplate{}, pair), CKR_OK);
    Bytes n, e;
    ASSERT_EQ(Quote(pair.pub, &n, &e), CKR_OK);
    r = MakeRelease(n, e, kind, wrap);
    NewLog();
  }
};

TEST_F(ReleaseCustody, TheSwkCannotBeUnwrappedAsAGenericSecretOrAPrivateKey) {
  Pair pair;
  Release r;
  QuotedRelease(pair, r);
  CK_OBJECT_HANDLE h;
  EXPECT_EQ(UnwrapSwk(pair.priv, r, h,
                      {{CKA_CLASS, &secret_cls, sizeof secret_cls},
                       {CKA_KEY_TYPE, &generic, sizeof generic},
                       {CKA_SENSITIVE, &no, 1},
                       {CKA_EXTRACTABLE, &yes, 1}}),
            CKR_TEMPLATE_INCONSISTENT);
  ExpectOneRefusalLine("unwraps only an AES transport key");
  EXPECT_EQ(
      UnwrapSwk(pair.priv, r, h,
                {{CKA_CLASS, &private_cls, sizeof private_cls}, {CKA_KEY_TYPE, &rsa, sizeof rsa}}),
      CKR_TEMPLATE_INCONSISTENT);
  ExpectOneRefusalLine("unwraps only an AES transport key");
  // The refused attempts did not use the attestation key up.
  ExpectRedeems(pair.priv, r);
}

TEST_F(ReleaseCustody, AWeakSwkTemplateIsOverriddenAndTheSwkOnlyUnwraps) {
  Pair pair;
  Release r;
  QuotedRelease(pair, r);
  CK_OBJECT_HANDLE swk;
  ASSERT_EQ(UnwrapSwk(pair.priv, r, swk,
                      {{CKA_CLASS, &secret_cls, sizeof secret_cls},
                       {CKA_KEY_TYPE, &aes, sizeof aes},
                       {CKA_TOKEN, &yes, 1},
                       {CKA_SENSITIVE, &no, 1},
                       {CKA_EXTRACTABLE, &yes, 1},
                       {CKA_ENCRYPT, &yes, 1},
                       {CKA_DECRYPT, &yes, 1},
                       {CKA_WRAP, &yes, 1},
                       {CKA_UNWRAP, &yes, 1},
                       {CKA_MODIFIABLE, &yes, 1}}),
            CKR_OK);
  EXPECT_EQ(Custody(swk), KMRA_CUSTODY_TRANSPORT);
  EXPECT_TRUE(ReadBool(swk, CKA_SENSITIVE));
  EXPECT_FALSE(ReadBool(swk, CKA_EXTRACTABLE));
  EXPECT_FALSE(ReadBool(swk, CKA_TOKEN));
  EXPECT_TRUE(ReadBool(swk, CKA_ALWAYS_SENSITIVE));
  EXPECT_TRUE(ReadBool(swk, CKA_NEVER_EXTRACTABLE));
  NewLog();
  Bytes value;
  EXPECT_EQ(Read(swk, CKA_VALUE, &value), CKR_ATTRIBUTE_SENSITIVE);
  ExpectOneRefusalLine("secret components are never read");
  // Encrypt, decrypt, wrap with it, wrap it out, change it.
  CK_BYTE iv[12] = {};
  CK_GCM_PARAMS gcm{iv, 12, 96, nullptr, 0, 128};
  CK_MECHANISM m_gcm = {CKM_AES_GCM, &gcm, sizeof gcm};
  EXPECT_EQ(p11()->C_EncryptInit(session_, &m_gcm, swk), CKR_KEY_FUNCTION_NOT_PERMITTED);
  ExpectOneRefusalLine("transport key (SWK)");
  EXPECT_EQ(p11()->C_DecryptInit(session_, &m_gcm, swk), CKR_KEY_FUNCTION_NOT_PERMITTED);
  ExpectOneRefusalLine("transport key (SWK)");
  Bytes kek;
  CK_OBJECT_HANDLE own = AttackerAesKey(&kek);
  NewLog();
  EXPECT_EQ(WrapOut(own, swk), CKR_KEY_UNEXTRACTABLE);
  ExpectOneRefusalLine("never leaves the token");
  CK_BBOOL ext = CK_TRUE;
  CK_ATTRIBUTE make_extractable = {CKA_EXTRACTABLE, &ext, 1};
  EXPECT_EQ(WrapOut(swk, own), CKR_KEY_FUNCTION_NOT_PERMITTED);
  ExpectOneRefusalLine("wraps nothing");
  EXPECT_EQ(p11()->C_SetAttributeValue(session_, swk, &make_extractable, 1), CKR_ACTION_PROHIBITED);
  ExpectOneRefusalLine("cannot be changed");
  // The legitimate use still works, once.
  CK_OBJECT_HANDLE key, again;
  ASSERT_EQ(UnwrapReleasedKey(swk, r, key), CKR_OK);
  ExpectSigns(key, r);
  EXPECT_EQ(UnwrapReleasedKey(swk, r, again), CKR_UNWRAPPING_KEY_HANDLE_INVALID);
}

TEST_F(ReleaseCustody, TheSwkUnwrapsOnlyAPrivateKeyWithKwpOrGcm) {
  Pair pair;
  Release r;
  QuotedRelease(pair, r);
  CK_OBJECT_HANDLE swk, h;
  ASSERT_EQ(UnwrapSwk(pair.priv, r, swk), CKR_OK);
  NewLog();
  CK_MECHANISM kw = {CKM_AES_KEY_WRAP, nullptr, 0};
  CK_ATTRIBUTE as_secret[] = {{CKA_CLASS, &secret_cls, sizeof secret_cls},
                              {CKA_KEY_TYPE, &generic, sizeof generic},
                              {CKA_SENSITIVE, &no, 1},
                              {CKA_EXTRACTABLE, &yes, 1}};
  Bytes wrapped = r.wrapped_key;
  EXPECT_EQ(
      p11()->C_UnwrapKey(session_, &kw, swk, wrapped.data(), wrapped.size(), as_secret, 4, &h),
      CKR_MECHANISM_INVALID);
  ExpectOneRefusalLine("unwraps only with CKM_AES_KEY_WRAP_PAD or CKM_AES_GCM");
  EXPECT_EQ(UnwrapReleasedKey(swk, r, h, {as_secret[0], as_secret[1], as_secret[2], as_secret[3]}),
            CKR_TEMPLATE_INCONSISTENT);
  ExpectOneRefusalLine("unwraps only an RSA or EC private key");
  CK_ATTRIBUTE as_aes[] = {{CKA_CLASS, &secret_cls, sizeof secret_cls},
                           {CKA_KEY_TYPE, &aes, sizeof aes}};
  EXPECT_EQ(UnwrapReleasedKey(swk, r, h, {as_aes[0], as_aes[1]}), CKR_TEMPLATE_INCONSISTENT);
  ExpectOneRefusalLine("unwraps only an RSA or EC private key");
  CK_OBJECT_HANDLE key;
  ASSERT_EQ(UnwrapReleasedKey(swk, r, key), CKR_OK);
  ExpectSigns(key, r);
}

TEST_F(ReleaseCustody, AWeakReleasedKeyTemplateIsOverriddenAndTheKeyNeverLeaves) {
  Pair pair;
  Release r;
  QuotedRelease(pair, r);
  CK_OBJECT_HANDLE swk, key;
  ASSERT_EQ(UnwrapSwk(pair.priv, r, swk), CKR_OK);
  ASSERT_EQ(UnwrapReleasedKey(swk, r, key,
                              {{CKA_CLASS, &private_cls, sizeof private_cls},
                               {CKA_KEY_TYPE, &rsa, sizeof rsa},
                               {CKA_SENSITIVE, &no, 1},
                               {CKA_EXTRACTABLE, &yes, 1},
                               {CKA_SIGN, &yes, 1},
                               {CKA_DECRYPT, &yes, 1},
                               {CKA_UNWRAP, &yes, 1}}),
            CKR_OK);
  EXPECT_EQ(Custody(key), KMRA_CUSTODY_RELEASED);
  EXPECT_TRUE(ReadBool(key, CKA_SENSITIVE));
  EXPECT_FALSE(ReadBool(key, CKA_EXTRACTABLE));
  EXPECT_FALSE(ReadBool(key, CKA_UNWRAP));
  EXPECT_TRUE(ReadBool(key, CKA_WRAP_WITH_TRUSTED));
  EXPECT_TRUE(ReadBool(key, CKA_NEVER_EXTRACTABLE));
  NewLog();
  for (auto type : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
                    CKA_COEFFICIENT}) {
    Bytes v;
    EXPECT_EQ(Read(key, type, &v), CKR_ATTRIBUTE_SENSITIVE);
    EXPECT_FALSE(Contains(v, r.key_secrets));
    ExpectOneRefusalLine("secret components are never read");
  }
  CK_OBJECT_HANDLE own = AttackerAesKey();
  NewLog();
  EXPECT_EQ(WrapOut(own, key), CKR_KEY_UNEXTRACTABLE);
  ExpectOneRefusalLine("never leaves the token");
  EXPECT_EQ(SetBool(key, CKA_EXTRACTABLE, true), CKR_ATTRIBUTE_READ_ONLY);
  ExpectOneRefusalLine("other than its names");
  EXPECT_EQ(SetBool(key, CKA_SENSITIVE, false), CKR_ATTRIBUTE_READ_ONLY);
  ExpectOneRefusalLine("other than its names");
  EXPECT_EQ(SetBool(key, CKA_UNWRAP, true), CKR_ATTRIBUTE_READ_ONLY);
  ExpectOneRefusalLine("other than its names");
  char label[] = "renamed";
  CK_ATTRIBUTE rename = {CKA_LABEL, label, sizeof label - 1};
  EXPECT_EQ(p11()->C_SetAttributeValue(session_, key, &rename, 1), CKR_OK);
  CK_OBJECT_HANDLE copy;
  EXPECT_NE(p11()->C_CopyObject(session_, key, nullptr, 0, &copy), CKR_OK);
  // Its public half and its use are what a TLS server needs.
  Bytes modulus;
  EXPECT_EQ(Read(key, CKA_MODULUS, &modulus), CKR_OK);
  ExpectSigns(key, r);
}

TEST_F(ReleaseCustody, AnEcKeyReleasedWithAesGcmIsSensitiveToo) {
  Pair pair;
  Release r;
  QuotedRelease(pair, r, KeyKind::kEc, Wrap::kGcm);
  CK_OBJECT_HANDLE swk, key;
  ASSERT_EQ(UnwrapSwk(pair.priv, r, swk), CKR_OK);
  // A modified GCM blob is refused and does not use the SWK up.
  Release bad;
  bad.wrapped_key = r.wrapped_key;
  bad.wrapped_key[20] ^= 1;
  EXPECT_EQ(UnwrapReleasedKey(swk, bad, key, {}, KeyKind::kEc, Wrap::kGcm),
            CKR_WRAPPED_KEY_INVALID);
  ASSERT_EQ(UnwrapReleasedKey(swk, r, key,
                              {{CKA_CLASS, &private_cls, sizeof private_cls},
                               {CKA_KEY_TYPE, &ec, sizeof ec},
                               {CKA_SENSITIVE, &no, 1},
                               {CKA_EXTRACTABLE, &yes, 1},
                               {CKA_SIGN, &yes, 1}},
                              KeyKind::kEc, Wrap::kGcm),
            CKR_OK);
  NewLog();
  Bytes v;
  EXPECT_EQ(Read(key, CKA_VALUE, &v), CKR_ATTRIBUTE_SENSITIVE);
  ExpectOneRefusalLine("secret components are never read");
  EXPECT_EQ(Custody(key), KMRA_CUSTODY_RELEASED);
  ExpectSigns(key, r);
  ExpectLegitReleaseWorks(KeyKind::kRsa, Wrap::kGcm);
}

TEST_F(ReleaseCustody, GcmTakesTheIvPrefixAndA128BitTagOnly) {
  Pair pair;
  Release r;
  QuotedRelease(pair, r, KeyKind::kRsa, Wrap::kGcm);
  CK_OBJECT_HANDLE swk, key;
  ASSERT_EQ(UnwrapSwk(pair.priv, r, swk), CKR_OK);
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &private_cls, sizeof private_cls},
                         {CKA_KEY_TYPE, &rsa, sizeof rsa},
                         {CKA_SIGN, &yes, 1}};
  Bytes wrapped = r.wrapped_key;
  Bytes iv(wrapped.begin(), wrapped.begin() + 12);
  CK_GCM_PARAMS short_tag{iv.data(), 12, 96, nullptr, 0, 96};
  CK_MECHANISM m = {CKM_AES_GCM, &short_tag, sizeof short_tag};
  EXPECT_EQ(p11()->C_UnwrapKey(session_, &m, swk, wrapped.data(), wrapped.size(), tmpl, 3, &key),
            CKR_MECHANISM_PARAM_INVALID);
  CK_GCM_PARAMS full{iv.data(), 12, 96, nullptr, 0, 128};
  m.pParameter = &full;
  ASSERT_EQ(p11()->C_UnwrapKey(session_, &m, swk, wrapped.data(), wrapped.size(), tmpl, 3, &key),
            CKR_OK);
  ExpectSigns(key, r);
}

TEST_F(ReleaseCustody, ACustodyMarkCannotBeForgedOrRemoved) {
  CK_ULONG released = KMRA_CUSTODY_RELEASED;
  CK_ATTRIBUTE mark = {CKA_KMRA_CUSTODY, &released, sizeof released};
  Bytes k(32, 7);
  CK_ATTRIBUTE create[] = {{CKA_CLASS, &secret_cls, sizeof secret_cls},
                           {CKA_KEY_TYPE, &aes, sizeof aes},
                           {CKA_VALUE, k.data(), k.size()},
                           mark};
  CK_OBJECT_HANDLE h;
  EXPECT_EQ(p11()->C_CreateObject(session_, create, 4, &h), CKR_ATTRIBUTE_READ_ONLY);
  CK_ULONG bits = 2048;
  CK_ATTRIBUTE pub[] = {{CKA_MODULUS_BITS, &bits, sizeof bits}};
  CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  Pair p;
  EXPECT_EQ(p11()->C_GenerateKeyPair(session_, &gen, pub, 1, &mark, 1, &p.pub, &p.priv),
            CKR_ATTRIBUTE_READ_ONLY);
  CK_OBJECT_HANDLE own = AttackerAesKey();
  EXPECT_EQ(Custody(own), KMRA_CUSTODY_NONE);
  NewLog();
  EXPECT_EQ(p11()->C_SetAttributeValue(session_, own, &mark, 1), CKR_ATTRIBUTE_READ_ONLY);
  ExpectOneRefusalLine("custody mark is set by the token only");
  ExpectLegitReleaseWorks();
}

TEST_F(ReleaseCustody, NoReadOrWrapFromAnotherThreadEverSeesTheSecrets) {
  // A second thread of the attacker's process probes every handle while the release runs.
  std::atomic<bool> stop{false};
  std::vector<Bytes> seen;
  CK_SESSION_HANDLE probe;
  ASSERT_EQ(p11()->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &probe), CKR_OK);
  Bytes kek;
  CK_OBJECT_HANDLE own = AttackerAesKey(&kek);
  std::thread prober([&] {
    while (!stop) {
      for (CK_OBJECT_HANDLE h = 1; h < own + 64; ++h) {
        for (auto type : {CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1}) {
          Bytes v(1024);
          CK_ATTRIBUTE a = {type, v.data(), v.size()};
          if (p11()->C_GetAttributeValue(probe, h, &a, 1) == CKR_OK) {
            seen.emplace_back(v.begin(), v.begin() + a.ulValueLen);
          }
        }
        Bytes w(4096);
        CK_ULONG len = w.size();
        CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
        if (p11()->C_WrapKey(probe, &kwp, own, h, w.data(), &len) == CKR_OK) {
          // The attacker unwraps what it got with its own key.
          auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
          EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
          Bytes plain(len);
          int l1 = 0, l2 = 0;
          if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_wrap_pad(), nullptr, kek.data(), nullptr) ==
                  1 &&
              EVP_DecryptUpdate(ctx.get(), plain.data(), &l1, w.data(), static_cast<int>(len)) ==
                  1 &&
              EVP_DecryptFinal_ex(ctx.get(), plain.data() + l1, &l2) == 1) {
            plain.resize(static_cast<size_t>(l1 + l2));
            seen.push_back(plain);
          }
        }
      }
    }
  });
  Pair pair;
  Release r;
  QuotedRelease(pair, r);
  ExpectRedeems(pair.priv, r);
  stop = true;
  prober.join();
  p11()->C_CloseSession(probe);
  for (const Bytes& v : seen) {
    EXPECT_FALSE(Contains(v, r.swk)) << "the SWK was read or wrapped out";
    EXPECT_FALSE(Contains(v, r.key_secrets)) << "the released key was read or wrapped out";
  }
}

TEST_F(ReleaseCustody, DestroyingKeysMidReleaseNeverLeavesAnUnguardedKey) {
  // A second thread destroys whatever the release creates, as fast as it can, and reads it.
  CK_SESSION_HANDLE other;
  ASSERT_EQ(p11()->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &other), CKR_OK);
  CK_OBJECT_HANDLE base = AttackerAesKey();
  std::atomic<bool> stop{false};
  std::vector<Bytes> seen, secrets;
  std::thread destroyer([&] {
    while (!stop) {
      for (CK_OBJECT_HANDLE h = base + 1; h < base + 32; ++h) {
        Bytes v(1024);
        CK_ATTRIBUTE a = {CKA_VALUE, v.data(), v.size()};
        if (p11()->C_GetAttributeValue(other, h, &a, 1) == CKR_OK) {
          seen.emplace_back(v.begin(), v.begin() + a.ulValueLen);
        }
        p11()->C_DestroyObject(other, h);
      }
    }
  });
  for (int round = 0; round < 4; ++round) {
    Pair pair;
    if (GeneratePair(PairTemplate{}, pair) != CKR_OK) continue;
    Bytes n, e;
    if (Quote(pair.pub, &n, &e) != CKR_OK) continue;
    Release r = MakeRelease(n, e, KeyKind::kEc);
    secrets.push_back(r.swk);
    secrets.push_back(r.key_secrets);
    CK_OBJECT_HANDLE swk, key;
    if (UnwrapSwk(pair.priv, r, swk) != CKR_OK) continue;
    CK_RV rv = UnwrapReleasedKey(swk, r, key, {}, KeyKind::kEc);
    if (rv == CKR_OK && Read(key, CKA_CLASS) == CKR_OK) {
      // A key that survived the race is a released key like any other.
      EXPECT_EQ(Custody(key), KMRA_CUSTODY_RELEASED);
      EXPECT_EQ(Read(key, CKA_VALUE), CKR_ATTRIBUTE_SENSITIVE);
    }
  }
  stop = true;
  destroyer.join();
  for (const Bytes& v : seen) {
    for (const Bytes& secret : secrets) EXPECT_FALSE(Contains(v, secret));
  }
  p11()->C_CloseSession(other);
  ExpectLegitReleaseWorks();
}

}  // namespace
}  // namespace kmra::security
