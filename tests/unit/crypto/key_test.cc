#include "crypto/key.h"

#include <gtest/gtest.h>

#include "crypto/ec.h"
#include "test_util.h"

namespace kmra::crypto {
namespace {

using testing::Openssl;
using testing::TempDir;

std::string Text(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

TEST(KeyTest, Pkcs8AndSpkiRoundTrip) {
  auto key = *GenerateEcKey(EcCurve::kP256);
  auto der = key.ToPkcs8Der();
  ASSERT_TRUE(der);
  EXPECT_EQ(der->ToString().rfind("<redacted:", 0), 0u);
  auto back = PrivateKey::FromDer(der->Reveal());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(back->PublicKey()->Equals(*key.PublicKey()));
  auto pem = key.ToPkcs8Pem();
  ASSERT_TRUE(pem);
  EXPECT_EQ(pem->RevealAsString().rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_TRUE(PrivateKey::Parse(pem->Reveal())->PublicKey()->Equals(*key.PublicKey()));

  auto pub = *key.PublicKey();
  auto spki = *pub.ToSpkiDer();
  EXPECT_TRUE(PublicKey::FromSpkiDer(spki)->Equals(pub));
  EXPECT_TRUE(PublicKey::FromPem(*pub.ToPem())->Equals(pub));
  EXPECT_EQ(pub.bits(), 256);
}

TEST(KeyTest, ReadsOpensslCliFormats) {
  TempDir dir;
  // Traditional "EC PRIVATE KEY" and PKCS#1 "RSA PUBLIC KEY".
  ASSERT_TRUE(Openssl("ecparam -name secp384r1 -genkey -noout -out " + (dir / "ec.pem").string()));
  auto ec = PrivateKey::Parse(testing::Read(dir / "ec.pem"));
  ASSERT_TRUE(ec) << ec.error().message();
  EXPECT_EQ(*EcCurveOf(*ec), EcCurve::kP384);
  ASSERT_TRUE(Openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out " +
                      (dir / "rsa.pem").string()));
  ASSERT_TRUE(Openssl("rsa -in " + (dir / "rsa.pem").string() + " -RSAPublicKey_out -out " +
                      (dir / "rsapub.pem").string()));
  auto rsapub = PublicKey::FromPem(Text(testing::Read(dir / "rsapub.pem")));
  ASSERT_TRUE(rsapub) << rsapub.error().message();
  EXPECT_EQ(rsapub->type(), KeyType::kRsa);
  EXPECT_TRUE(rsapub->Equals(*PrivateKey::Parse(testing::Read(dir / "rsa.pem"))->PublicKey()));
}

TEST(KeyTest, BadInputIsNamed) {
  auto key = *GenerateEcKey(EcCurve::kP256);
  auto der = *key.ToPkcs8Der();
  auto truncated = der.Reveal().first(der.size() - 10);
  auto r = PrivateKey::FromDer(truncated);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("not valid DER PKCS#8"), std::string::npos);

  auto spki = *key.PublicKey()->ToSpkiDer();
  spki.push_back(0);
  auto p = PublicKey::FromSpkiDer(spki);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("1 trailing bytes"), std::string::npos);
  spki.resize(spki.size() - 20);
  EXPECT_FALSE(PublicKey::FromSpkiDer(spki));

  auto pem = PublicKey::FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  ASSERT_FALSE(pem);
  EXPECT_NE(pem.error().message().find("no PEM public key"), std::string::npos);
  auto enc = PrivateKey::FromPem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n");
  ASSERT_FALSE(enc);
  EXPECT_NE(enc.error().message().find("encrypted"), std::string::npos);
  auto text = PrivateKey::FromPem("hello");
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message().find("not PEM"), std::string::npos);
  EXPECT_FALSE(PrivateKey::Parse(std::vector<uint8_t>{}));
}

}  // namespace
}  // namespace kmra::crypto
