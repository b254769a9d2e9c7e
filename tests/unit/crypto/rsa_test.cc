#include "crypto/rsa.h"

#include <gtest/gtest.h>

#include "base/hex.h"
#include "crypto/ec.h"
#include "test_util.h"

namespace kmra::crypto {
namespace {

using testing::B;
using testing::Openssl;

// One key made by the openssl tool, shared by the suite (RSA key generation is the slow part).
class RsaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ASSERT_TRUE(
        Openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + Path("k.pem")));
    ASSERT_TRUE(Openssl("pkey -in " + Path("k.pem") + " -pubout -out " + Path("pub.pem")));
    key_ = new PrivateKey(*PrivateKey::Parse(testing::Read(*dir_ / "k.pem")));
    pub_ = new PublicKey(*key_->PublicKey());
  }
  static void TearDownTestSuite() {
    delete pub_;
    delete key_;
    delete dir_;
  }
  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }

  static testing::TempDir* dir_;
  static PrivateKey* key_;
  static PublicKey* pub_;
};

testing::TempDir* RsaTest::dir_ = nullptr;
PrivateKey* RsaTest::key_ = nullptr;
PublicKey* RsaTest::pub_ = nullptr;

TEST_F(RsaTest, OaepSha1CrossCheckWithOpensslCli) {
  // The KMRA AppHSM API wraps the SWK with OAEP SHA-1/MGF1-SHA-1.
  std::vector<uint8_t> swk(32, 0xa5);
  testing::Write(*dir_ / "swk", swk);
  ASSERT_TRUE(Openssl("pkeyutl -encrypt -pubin -inkey " + Path("pub.pem") +
                      " -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -in " +
                      Path("swk") + " -out " + Path("swk.enc1")));
  OaepParams sha1{HashAlg::kSha1, std::nullopt, {}};
  auto ours = RsaOaepDecrypt(*key_, testing::Read(*dir_ / "swk.enc1"), sha1);
  ASSERT_TRUE(ours) << ours.error().message();
  EXPECT_TRUE(ours->Equals(swk));

  auto ct = RsaOaepEncrypt(*pub_, swk, sha1);
  ASSERT_TRUE(ct);
  EXPECT_EQ(ct->size(), 256u);
  testing::Write(*dir_ / "swk.enc2", *ct);
  ASSERT_TRUE(Openssl("pkeyutl -decrypt -inkey " + Path("k.pem") +
                      " -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -in " +
                      Path("swk.enc2") + " -out " + Path("swk.dec2")));
  EXPECT_EQ(testing::Read(*dir_ / "swk.dec2"), swk);
}

TEST_F(RsaTest, OaepSha256WithLabelCrossCheckAndMgf1Mismatch) {
  std::vector<uint8_t> secret = {1, 2, 3, 4, 5};
  OaepParams p{HashAlg::kSha256, std::nullopt, {0xde, 0xad}};
  testing::Write(*dir_ / "s", secret);
  ASSERT_TRUE(Openssl("pkeyutl -encrypt -pubin -inkey " + Path("pub.pem") +
                      " -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256"
                      " -pkeyopt rsa_mgf1_md:sha256 -pkeyopt rsa_oaep_label:dead -in " +
                      Path("s") + " -out " + Path("s.enc")));
  auto theirs = testing::Read(*dir_ / "s.enc");
  EXPECT_TRUE(RsaOaepDecrypt(*key_, theirs, p)->Equals(secret));
  testing::Write(*dir_ / "s.enc2", *RsaOaepEncrypt(*pub_, secret, p));
  EXPECT_TRUE(Openssl("pkeyutl -decrypt -inkey " + Path("k.pem") +
                      " -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256"
                      " -pkeyopt rsa_oaep_label:dead -in " +
                      Path("s.enc2") + " -out " + Path("s.dec2")));
  EXPECT_EQ(testing::Read(*dir_ / "s.dec2"), secret);

  // MGF1 must match: SHA-256 with MGF1-SHA-1 is a different scheme.
  OaepParams mixed{HashAlg::kSha256, HashAlg::kSha1, {0xde, 0xad}};
  auto r = RsaOaepDecrypt(*key_, theirs, mixed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_NE(r.error().message().find("OAEP SHA-256/MGF1-SHA-1"), std::string::npos)
      << r.error().message();
  // So must the label.
  EXPECT_FALSE(RsaOaepDecrypt(*key_, theirs, OaepParams{}));
  auto mixed_ct = *RsaOaepEncrypt(*pub_, secret, mixed);
  EXPECT_TRUE(RsaOaepDecrypt(*key_, mixed_ct, mixed)->Equals(secret));
}

TEST_F(RsaTest, OaepBadInputIsNamed) {
  auto r = RsaOaepDecrypt(*key_, std::vector<uint8_t>(255, 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("255 bytes; this 2048-bit key needs 256"), std::string::npos);
  auto big = RsaOaepEncrypt(*pub_, std::vector<uint8_t>(191, 1));
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message().find("takes at most 190"), std::string::npos);
  EXPECT_TRUE(RsaOaepEncrypt(*pub_, std::vector<uint8_t>(190, 1)));
  auto ec = *GenerateEcKey(EcCurve::kP256);
  auto wrong = RsaOaepEncrypt(*ec.PublicKey(), B("x"));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("needs an RSA key, got an EC key"), std::string::npos);
  EXPECT_FALSE(RsaOaepDecrypt(ec, std::vector<uint8_t>(256)));
}

TEST_F(RsaTest, PssCrossCheckWithOpensslCli) {
  testing::Write(*dir_ / "m", B("csr body"));
  ASSERT_TRUE(Openssl("dgst -sha256 -sign " + Path("k.pem") +
                      " -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -out " +
                      Path("m.sig1") + " " + Path("m")));
  auto theirs = testing::Read(*dir_ / "m.sig1");
  EXPECT_TRUE(RsaVerify(*pub_, RsaPadding::kPss, HashAlg::kSha256, B("csr body"), theirs));
  // A PSS signature is not a PKCS#1 v1.5 signature.
  auto wrong = RsaVerify(*pub_, RsaPadding::kPkcs1v15, HashAlg::kSha256, B("csr body"), theirs);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Code::kUnauthenticated);

  auto ours = *RsaSign(*key_, RsaPadding::kPss, HashAlg::kSha256, B("csr body"));
  testing::Write(*dir_ / "m.sig2", ours);
  EXPECT_TRUE(Openssl("dgst -sha256 -verify " + Path("pub.pem") +
                      " -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -signature " +
                      Path("m.sig2") + " " + Path("m")));
  ours[0] ^= 1;
  testing::Write(*dir_ / "m.sig3", ours);
  EXPECT_FALSE(Openssl("dgst -sha256 -verify " + Path("pub.pem") +
                       " -sigopt rsa_padding_mode:pss -signature " + Path("m.sig3") + " " +
                       Path("m")));
}

// Explicit PSS parameters (what a PKCS#11 caller gives): SHA-384 with MGF1-SHA-1 and a 7-byte
// salt, checked by the openssl tool with the same parameters and refused under others.
TEST_F(RsaTest, PssWithExplicitParametersCrossCheck) {
  testing::Write(*dir_ / "x", B("pkcs11 pss"));
  const PssParams params{HashAlg::kSha384, HashAlg::kSha1, 7};
  auto sig = RsaPssSignDigest(*key_, Digest(HashAlg::kSha384, B("pkcs11 pss")), params);
  ASSERT_TRUE(sig) << sig.error().ToString();
  testing::Write(*dir_ / "x.sig", *sig);
  EXPECT_TRUE(Openssl("dgst -sha384 -verify " + Path("pub.pem") +
                      " -sigopt rsa_padding_mode:pss -sigopt rsa_mgf1_md:sha1"
                      " -sigopt rsa_pss_saltlen:7 -signature " +
                      Path("x.sig") + " " + Path("x")));
  EXPECT_FALSE(Openssl("dgst -sha384 -verify " + Path("pub.pem") +
                       " -sigopt rsa_padding_mode:pss -sigopt rsa_mgf1_md:sha384"
                       " -signature " +
                       Path("x.sig") + " " + Path("x")));
  const auto digest = Digest(HashAlg::kSha384, B("pkcs11 pss"));
  EXPECT_TRUE(RsaPssVerifyDigest(*pub_, digest, *sig, params));
  // Any salt length is recovered when none is given; a different one or another MGF1 hash fails.
  EXPECT_TRUE(RsaPssVerifyDigest(*pub_, digest, *sig, {HashAlg::kSha384, HashAlg::kSha1, {}}));
  auto salt = RsaPssVerifyDigest(*pub_, digest, *sig, {HashAlg::kSha384, HashAlg::kSha1, 8});
  ASSERT_FALSE(salt);
  EXPECT_EQ(salt.error().code(), Code::kUnauthenticated);
  EXPECT_FALSE(RsaPssVerifyDigest(*pub_, digest, *sig, {HashAlg::kSha384, {}, 7}));

  // The limits of a 2048-bit key (emLen 256): salt at most 256 - 48 - 2, OAEP input 256 - 2*32 - 2.
  EXPECT_EQ(RsaPssMaxSalt(*pub_, HashAlg::kSha384), 206u);
  EXPECT_EQ(RsaOaepMaxInput(*pub_, {HashAlg::kSha256, {}, {}}), 190u);
  EXPECT_TRUE(RsaPssSignDigest(*key_, digest, {HashAlg::kSha384, {}, 206}));
  auto too_long = RsaPssSignDigest(*key_, digest, {HashAlg::kSha384, {}, 207});
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code(), Code::kInvalidArgument);
  EXPECT_NE(too_long.error().message().find("207-byte salt"), std::string::npos);
  // A key shared from an EVP_PKEY is the same key.
  EXPECT_TRUE(RsaPssVerifyDigest(PublicKey::Share(key_->get()), digest, *sig, params));
}

TEST_F(RsaTest, Pkcs1v15CrossCheckAndRawForm) {
  testing::Write(*dir_ / "p", B("tls handshake"));
  ASSERT_TRUE(
      Openssl("dgst -sha384 -sign " + Path("k.pem") + " -out " + Path("p.sig") + " " + Path("p")));
  auto theirs = testing::Read(*dir_ / "p.sig");
  EXPECT_TRUE(
      RsaVerify(*pub_, RsaPadding::kPkcs1v15, HashAlg::kSha384, B("tls handshake"), theirs));
  // PKCS#1 v1.5 is deterministic: our signature equals theirs byte for byte.
  EXPECT_EQ(*RsaSign(*key_, RsaPadding::kPkcs1v15, HashAlg::kSha384, B("tls handshake")), theirs);
  // CKM_RSA_PKCS over DigestInfo(SHA-256) equals the hashed PKCS#1 v1.5 signature.
  auto digest = Sha256(B("tls handshake"));
  auto info = *HexDecode("3031300d060960864801650304020105000420");
  info.insert(info.end(), digest.begin(), digest.end());
  EXPECT_EQ(*RsaSignPkcs1Raw(*key_, info),
            *RsaSign(*key_, RsaPadding::kPkcs1v15, HashAlg::kSha256, B("tls handshake")));
  EXPECT_NE(RsaSignPkcs1Raw(*key_, std::vector<uint8_t>(246)).error().message().find("at most 245"),
            std::string::npos);
  auto short_sig = RsaVerify(*pub_, RsaPadding::kPkcs1v15, HashAlg::kSha384, B("tls handshake"),
                             std::span(theirs).first(100));
  ASSERT_FALSE(short_sig);
  EXPECT_EQ(short_sig.error().code(), Code::kInvalidArgument);
  EXPECT_NE(short_sig.error().message().find("100 bytes"), std::string::npos);
}

TEST_F(RsaTest, PublicNumbersRoundTrip) {
  auto nums = RsaPublicNumbersOf(*pub_);
  ASSERT_TRUE(nums);
  EXPECT_EQ(nums->modulus.size(), 256u);
  EXPECT_EQ(HexEncode(nums->exponent), "010001");
  auto back = RsaPublicKeyFromNumbers(nums->modulus, nums->exponent);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(back->Equals(*pub_));
  // Leading zeros (fixed-width encodings) are accepted.
  std::vector<uint8_t> e4 = {0, 1, 0, 1};
  EXPECT_TRUE(RsaPublicKeyFromNumbers(nums->modulus, e4)->Equals(*pub_));
  auto even = nums->modulus;
  even.back() &= 0xfe;
  EXPECT_NE(RsaPublicKeyFromNumbers(even, e4).error().message().find("even"), std::string::npos);
  EXPECT_NE(RsaPublicKeyFromNumbers(std::span(nums->modulus).first(64), e4)
                .error()
                .message()
                .find("64 bytes"),
            std::string::npos);
  EXPECT_FALSE(RsaPublicKeyFromNumbers(nums->modulus, std::vector<uint8_t>{2}));
  EXPECT_FALSE(RsaPublicKeyFromNumbers(nums->modulus, {}));
}

TEST(RsaKeygenTest, GeneratesAndRejectsOddSizes) {
  auto k = GenerateRsaKey(2048);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->bits(), 2048);
  EXPECT_EQ(k->type(), KeyType::kRsa);
  auto sig = *RsaSign(*k, RsaPadding::kPss, HashAlg::kSha384, B("m"));
  EXPECT_TRUE(RsaVerify(*k->PublicKey(), RsaPadding::kPss, HashAlg::kSha384, B("m"), sig));
  EXPECT_NE(GenerateRsaKey(1000).error().message().find("1000 bits"), std::string::npos);
}

}  // namespace
}  // namespace kmra::crypto
