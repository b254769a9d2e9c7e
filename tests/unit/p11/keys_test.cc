#include "p11/keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "softhsm_fixture.h"
#include "test_keys.h"

namespace kmra::p11 {
namespace {

using ::testing::HasSubstr;
using testing::SoftHsmTest;

TEST(KeySpecTest, ParsesTheSupportedTypesOnly) {
  EXPECT_EQ(KeySpec::Parse("rsa-3072")->rsa_bits, 3072);
  EXPECT_EQ(KeySpec::Parse("RSA4096")->ToString(), "rsa-4096");
  EXPECT_EQ(KeySpec::Parse("ec-p384")->ec_bits, 384);
  EXPECT_EQ(KeySpec::Parse("P-256")->ToString(), "ec-p256");
  auto bad = KeySpec::Parse("rsa-1024");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("rsa-1024"));
  EXPECT_FALSE(KeySpec::Parse("ed25519"));
}

class KeysTest : public SoftHsmTest {
 protected:
  // Signs with the HSM key and verifies with its public key read back from the HSM.
  void ExpectSignsAndVerifies(const KeyObjects& key) {
    std::vector<uint8_t> data = {'h', 'e', 'l', 'l', 'o'};
    std::vector<uint8_t> sig;
    if (key.algorithm == KeyAlgorithm::kRsa) {
      CK_MECHANISM mech{CKM_SHA256_RSA_PKCS, nullptr, 0};
      auto s = session_->Sign(mech, key.private_key, data);
      ASSERT_TRUE(s) << s.error().ToString();
      sig = *s;
    } else {
      uint8_t digest[32];
      unsigned int len = 0;
      EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
      CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
      auto raw = session_->Sign(mech, key.private_key, {digest, len});
      ASSERT_TRUE(raw) << raw.error().ToString();
      auto ecdsa = ossl::Wrap(ECDSA_SIG_new());
      size_t half = raw->size() / 2;
      ECDSA_SIG_set0(ecdsa.get(), BN_bin2bn(raw->data(), static_cast<int>(half), nullptr),
                     BN_bin2bn(raw->data() + half, static_cast<int>(half), nullptr));
      int der_len = i2d_ECDSA_SIG(ecdsa.get(), nullptr);
      sig.resize(static_cast<size_t>(der_len));
      uint8_t* p = sig.data();
      i2d_ECDSA_SIG(ecdsa.get(), &p);
    }
    auto spki = PublicKeySpki(*session_, key);
    ASSERT_TRUE(spki) << spki.error().ToString();
    auto pub = testing::FromSpki(*spki);
    ASSERT_TRUE(pub);
    EXPECT_TRUE(testing::VerifySha256(pub.get(), data, sig));
  }

  void ExpectReleaseAttributes(CK_OBJECT_HANDLE priv) {
    EXPECT_TRUE(*session_->GetBool(priv, CKA_TOKEN));
    EXPECT_TRUE(*session_->GetBool(priv, CKA_SENSITIVE));
    EXPECT_TRUE(*session_->GetBool(priv, CKA_EXTRACTABLE));
    EXPECT_TRUE(*session_->GetBool(priv, CKA_PRIVATE));
    EXPECT_TRUE(*session_->GetBool(priv, CKA_SIGN));
  }
};

TEST_F(KeysTest, GeneratesRsaAndEcKeysThatLeaveOnlyWrapped) {
  for (const char* type : {"rsa-2048", "ec-p256", "ec-p384"}) {
    SCOPED_TRACE(type);
    auto spec = KeySpec::Parse(type);
    ASSERT_TRUE(spec);
    auto key = GenerateKeyPair(*session_, *spec, KeyName{std::string("gen-") + type, {}});
    ASSERT_TRUE(key) << key.error().ToString();
    EXPECT_EQ(key->name.id.size(), 16u);  // an id was chosen
    ExpectReleaseAttributes(key->private_key);
    // Sensitive: the private parts cannot be read.
    auto secret = session_->GetAttribute(key->private_key,
                                         spec->algorithm == KeyAlgorithm::kRsa ? CKA_PRIVATE_EXPONENT : CKA_VALUE);
    ASSERT_FALSE(secret);
    EXPECT_EQ(secret.error().code(), Code::kPermissionDenied);
    ExpectSignsAndVerifies(*key);
    // Found again by label alone and by id alone.
    auto by_label = FindKey(*session_, KeyName{key->name.label, {}});
    ASSERT_TRUE(by_label) << by_label.error().ToString();
    EXPECT_EQ(by_label->private_key, key->private_key);
    EXPECT_EQ(by_label->public_key, key->public_key);
    EXPECT_EQ(by_label->name.id, key->name.id);
    auto by_id = FindKey(*session_, KeyName{"", key->name.id});
    ASSERT_TRUE(by_id);
    EXPECT_EQ(by_id->name.label, key->name.label);
  }
}

TEST_F(KeysTest, DuplicateNamesAreRefused) {
  auto spec = *KeySpec::Parse("ec-p256");
  ASSERT_TRUE(GenerateKeyPair(*session_, spec, KeyName{"dup", {}}));
  auto again = GenerateKeyPair(*session_, spec, KeyName{"dup", {}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kAlreadyExists);
  EXPECT_THAT(again.error().message(), HasSubstr("'dup'"));
}

TEST_F(KeysTest, ImportsPemKeysOfEveryForm) {
  struct Case {
    const char* name;
    ossl::Ptr<EVP_PKEY> key;
    bool traditional;
  };
  Case cases[] = {{"rsa-pkcs8", testing::MakeRsa(2048), false},
                  {"rsa-traditional", testing::MakeRsa(3072), true},
                  {"ec256-pkcs8", testing::MakeEc("P-256"), false},
                  {"ec384-traditional", testing::MakeEc("P-384"), true}};
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string pem = testing::PrivatePem(c.key.get(), c.traditional);
    auto key = ImportPrivateKeyPem(*session_, pem, KeyName{c.name, {0x01, 0x02}});
    if (std::string(c.name) != "rsa-pkcs8") {
      // Only the first can have id 01 02; the others collide on the id.
      ASSERT_FALSE(key);
      EXPECT_EQ(key.error().code(), Code::kAlreadyExists);
      key = ImportPrivateKeyPem(*session_, pem, KeyName{c.name, {}});
    }
    ASSERT_TRUE(key) << key.error().ToString();
    ExpectReleaseAttributes(key->private_key);
    auto spki = PublicKeySpki(*session_, *key);
    ASSERT_TRUE(spki);
    EXPECT_EQ(*spki, testing::Spki(c.key.get()));
    ExpectSignsAndVerifies(*key);
  }
}

TEST_F(KeysTest, BadPemIsExplained) {
  auto not_pem = ImportPrivateKeyPem(*session_, "hello", KeyName{"x", {}});
  ASSERT_FALSE(not_pem);
  EXPECT_EQ(not_pem.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(not_pem.error().message(), HasSubstr("not PEM"));

  auto small = testing::MakeRsa(1024);
  auto weak = ImportPrivateKeyPem(*session_, testing::PrivatePem(small.get()), KeyName{"weak", {}});
  ASSERT_FALSE(weak);
  EXPECT_THAT(weak.error().message(), HasSubstr("1024 bits"));

  auto k1 = testing::MakeEc("secp521r1");
  auto p521 = ImportPrivateKeyPem(*session_, testing::PrivatePem(k1.get()), KeyName{"p521", {}});
  ASSERT_FALSE(p521);
  EXPECT_THAT(p521.error().message(), HasSubstr("P-256 or P-384"));

  std::string garbled = testing::PrivatePem(testing::MakeEc("P-256").get());
  garbled[40] = garbled[40] == 'A' ? 'B' : 'A';
  garbled[41] = '!';
  auto broken = ImportPrivateKeyPem(*session_, garbled, KeyName{"broken", {}});
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code(), Code::kInvalidArgument);
}

TEST_F(KeysTest, DeleteRemovesEveryObjectOfTheKey) {
  auto key = GenerateKeyPair(*session_, *KeySpec::Parse("rsa-2048"), KeyName{"to-delete", {}});
  ASSERT_TRUE(key);
  ASSERT_TRUE(DeleteKey(*session_, KeyName{"to-delete", {}}));
  auto found = FindKey(*session_, KeyName{"to-delete", {}});
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code(), Code::kNotFound);
  Attrs pubs;
  pubs.Ulong(CKA_CLASS, CKO_PUBLIC_KEY).String(CKA_LABEL, "to-delete");
  EXPECT_TRUE(session_->Find(pubs)->empty());
  auto again = DeleteKey(*session_, KeyName{"to-delete", {}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace kmra::p11
