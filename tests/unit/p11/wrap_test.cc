#include "p11/wrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "softhsm_fixture.h"
#include "test_keys.h"

namespace kmra::p11 {
namespace {

using ::testing::HasSubstr;
using testing::SoftHsmTest;

RsaPublicKey RsaPublicOf(EVP_PKEY* key) {
  auto r = RsaPublicKeyFromSpki(testing::Spki(key));
  EXPECT_TRUE(r);
  return r ? *r : RsaPublicKey{};
}

// What a KMRA client does with the response, in plain OpenSSL: RSA-OAEP decrypt the SWK, then
// AES-256 key unwrap with padding (RFC 5649) to get the PKCS#8 private key.
ossl::Ptr<EVP_PKEY> ClientUnwrap(EVP_PKEY* cust, const ReleaseWrapResult& r) {
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new(cust, nullptr));
  const EVP_MD* md = r.oaep_hash == OaepHash::kSha256 ? EVP_sha256() : EVP_sha1();
  if (EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1) {
    return nullptr;
  }
  uint8_t swk[512];
  size_t swk_len = sizeof(swk);
  if (EVP_PKEY_decrypt(ctx.get(), swk, &swk_len, r.wrapped_swk.data(), r.wrapped_swk.size()) != 1 ||
      swk_len != 32) {
    return nullptr;
  }
  auto cctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  EVP_CIPHER_CTX_set_flags(cctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  std::vector<uint8_t> pkcs8(r.wrapped_key.size() + 16);
  int len = 0;
  int final_len = 0;
  if (EVP_DecryptInit_ex(cctx.get(), EVP_aes_256_wrap_pad(), nullptr, swk, nullptr) != 1 ||
      EVP_DecryptUpdate(cctx.get(), pkcs8.data(), &len, r.wrapped_key.data(),
                        static_cast<int>(r.wrapped_key.size())) != 1 ||
      EVP_DecryptFinal_ex(cctx.get(), pkcs8.data() + len, &final_len) != 1) {
    return nullptr;
  }
  pkcs8.resize(static_cast<size_t>(len + final_len));
  const uint8_t* p = pkcs8.data();
  return ossl::Wrap(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(pkcs8.size())));
}

class WrapTest : public SoftHsmTest {
 protected:
  size_t SessionObjectCount() {
    Attrs t;
    t.Bool(CKA_TOKEN, false);
    auto found = session_->Find(t);
    EXPECT_TRUE(found);
    return found ? found->size() : 0;
  }
};

TEST_F(WrapTest, ReleaseWrapIsWhatAKmraClientUnwraps) {
  for (const char* type : {"rsa-2048", "ec-p256", "ec-p384"}) {
    SCOPED_TRACE(type);
    auto key = GenerateKeyPair(*session_, *KeySpec::Parse(type), KeyName{std::string("rel-") + type, {}});
    ASSERT_TRUE(key) << key.error().ToString();
    auto cust = testing::MakeRsa(3072);
    size_t before = SessionObjectCount();
    auto wrapped = WrapForRelease(*session_, key->private_key, RsaPublicOf(cust.get()), OaepChoice::kSha1);
    ASSERT_TRUE(wrapped) << wrapped.error().ToString();
    EXPECT_EQ(SessionObjectCount(), before);  // cust_pub and SWK are gone
    EXPECT_EQ(wrapped->oaep_hash, OaepHash::kSha1);
    EXPECT_EQ(wrapped->wrapped_swk.size(), 384u);
    EXPECT_EQ(wrapped->key_mechanism, "CKM_AES_KEY_WRAP_PAD");
    auto released = ClientUnwrap(cust.get(), *wrapped);
    ASSERT_TRUE(released) << "the client could not unwrap the key";
    EXPECT_EQ(testing::Spki(released.get()), *PublicKeySpki(*session_, *key));
  }
}

TEST_F(WrapTest, Sha256FallsBackToSha1OnSoftHsmAndSaysSo) {
  auto key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), KeyName{"fallback", {}});
  ASSERT_TRUE(key);
  auto cust = testing::MakeRsa(2048);
  auto wrapped = WrapForRelease(*session_, key->private_key, RsaPublicOf(cust.get()),
                                OaepChoice::kSha256ElseSha1);
  ASSERT_TRUE(wrapped) << wrapped.error().ToString();
  // SoftHSM2 2.6.1 cannot wrap with OAEP SHA-256 (measured: CKR_ARGUMENTS_BAD).
  EXPECT_EQ(wrapped->oaep_hash, OaepHash::kSha1);
  EXPECT_EQ(wrapped->swk_mechanism, "CKM_RSA_PKCS_OAEP(SHA-1,MGF1-SHA1)");
  auto released = ClientUnwrap(cust.get(), *wrapped);
  ASSERT_TRUE(released);
  EXPECT_EQ(testing::Spki(released.get()), *PublicKeySpki(*session_, *key));

  size_t before = SessionObjectCount();
  auto strict = WrapForRelease(*session_, key->private_key, RsaPublicOf(cust.get()), OaepChoice::kSha256);
  ASSERT_FALSE(strict);
  EXPECT_THAT(strict.error().message(), HasSubstr("SHA-256"));
  EXPECT_THAT(strict.error().message(), HasSubstr("CKR_"));
  EXPECT_EQ(SessionObjectCount(), before);  // cleaned up on the error path too
}

TEST_F(WrapTest, NonExtractableKeyIsRefusedWithAReason) {
  auto key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), KeyName{"stuck", {}},
                             KeyOptions{.token = true, .extractable = false});
  ASSERT_TRUE(key);
  auto cust = testing::MakeRsa(2048);
  size_t before = SessionObjectCount();
  auto wrapped = WrapForRelease(*session_, key->private_key, RsaPublicOf(cust.get()), OaepChoice::kSha1);
  ASSERT_FALSE(wrapped);
  EXPECT_THAT(wrapped.error().message(), HasSubstr("CKA_EXTRACTABLE"));
  EXPECT_EQ(SessionObjectCount(), before);
}

TEST_F(WrapTest, WeakOrMalformedCustomerKeysAreRefused) {
  auto key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), KeyName{"k", {}});
  ASSERT_TRUE(key);
  auto small = testing::MakeRsa(1024);
  auto weak = WrapForRelease(*session_, key->private_key, RsaPublicOf(small.get()), OaepChoice::kSha1);
  ASSERT_FALSE(weak);
  EXPECT_EQ(weak.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(weak.error().message(), HasSubstr("1024-bit"));

  RsaPublicKey even = RsaPublicOf(testing::MakeRsa(2048).get());
  even.modulus.back() &= 0xfe;
  EXPECT_FALSE(WrapForRelease(*session_, key->private_key, even, OaepChoice::kSha1));
  RsaPublicKey bad_e = RsaPublicOf(testing::MakeRsa(2048).get());
  bad_e.exponent = {0x01};
  EXPECT_FALSE(WrapForRelease(*session_, key->private_key, bad_e, OaepChoice::kSha1));
  EXPECT_FALSE(WrapForRelease(*session_, key->private_key, RsaPublicKey{}, OaepChoice::kSha1));
  EXPECT_FALSE(RsaPublicKeyFromSpki(testing::Spki(testing::MakeEc("P-256").get())));
}

// The whole loop in PKCS#11: a token makes the receiving key pair, the HSM wraps, the token unwraps into
// a non-extractable key, and that key signs what the original public key verifies.
TEST_F(WrapTest, TokenSideUnwrapsIntoANonExtractableKey) {
  for (const char* type : {"rsa-2048", "ec-p256"}) {
    SCOPED_TRACE(type);
    auto server_key = GenerateKeyPair(*session_, *KeySpec::Parse(type), KeyName{std::string("srv-") + type, {}});
    ASSERT_TRUE(server_key);
    auto receiver = GenerateSessionRsaKeyPair(*session_);
    ASSERT_TRUE(receiver) << receiver.error().ToString();
    EXPECT_FALSE(*session_->GetBool(receiver->private_key, CKA_TOKEN));
    auto cust_pub = ReadRsaPublicKey(*session_, receiver->public_key);
    ASSERT_TRUE(cust_pub);
    EXPECT_EQ(cust_pub->modulus.size(), 384u);  // RSA-3072 as in KMRA

    auto wrapped = WrapForRelease(*session_, server_key->private_key, *cust_pub, OaepChoice::kSha256ElseSha1);
    ASSERT_TRUE(wrapped);
    UnwrapTarget target{KeyName{std::string("web-") + type, {0xaa, 0xbb}},
                        server_key->algorithm, /*token=*/true};
    auto unwrapped = UnwrapReleasedKey(*session_, receiver->private_key, wrapped->oaep_hash,
                                       wrapped->wrapped_swk, wrapped->wrapped_key, target);
    ASSERT_TRUE(unwrapped) << unwrapped.error().ToString();
    EXPECT_TRUE(*session_->GetBool(*unwrapped, CKA_SENSITIVE));
    EXPECT_FALSE(*session_->GetBool(*unwrapped, CKA_EXTRACTABLE));
    EXPECT_TRUE(*session_->GetBool(*unwrapped, CKA_TOKEN));
    EXPECT_FALSE(*session_->GetBool(*unwrapped, CKA_UNWRAP));
    EXPECT_FALSE(*session_->GetBool(*unwrapped, CKA_DERIVE));
    EXPECT_EQ(*session_->GetString(*unwrapped, CKA_LABEL), target.name.label);

    auto spki = PublicKeySpki(*session_, *server_key);
    ASSERT_TRUE(spki);
    ASSERT_TRUE(CreatePublicKeyObject(*session_, *spki, target.name));
    auto found = FindKey(*session_, target.name);
    ASSERT_TRUE(found) << found.error().ToString();
    EXPECT_EQ(found->private_key, *unwrapped);
    EXPECT_EQ(*PublicKeySpki(*session_, *found), *spki);

    // A wrong receiving key cannot unwrap.
    auto other = GenerateSessionRsaKeyPair(*session_, 2048);
    ASSERT_TRUE(other);
    auto wrong = UnwrapReleasedKey(*session_, other->private_key, wrapped->oaep_hash, wrapped->wrapped_swk,
                                   wrapped->wrapped_key, UnwrapTarget{KeyName{"wrong", {}}, server_key->algorithm});
    ASSERT_FALSE(wrong);
    EXPECT_THAT(wrong.error().message(), HasSubstr("unwrapping the session key"));
  }
}

TEST_F(WrapTest, CertificateObjectCarriesTheNameAndFields) {
  auto key = testing::MakeEc("P-256");
  auto cert = ossl::Wrap(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("web"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  ASSERT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  int len = i2d_X509(cert.get(), nullptr);
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  i2d_X509(cert.get(), &p);

  auto obj = CreateCertificateObject(*session_, der, KeyName{"web-cert", {0x01}});
  ASSERT_TRUE(obj) << obj.error().ToString();
  EXPECT_EQ(*session_->GetAttribute(*obj, CKA_VALUE), der);
  EXPECT_EQ(*session_->GetUlong(*obj, CKA_CERTIFICATE_TYPE), static_cast<CK_ULONG>(CKC_X_509));
  std::vector<uint8_t> junk = {0x30, 0x03, 0x01, 0x01, 0x00};
  auto bad = CreateCertificateObject(*session_, junk, KeyName{"junk", {}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace kmra::p11
