#include "crypto/x509.h"

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/hex.h"
#include "test_pki.h"

namespace kmra::crypto {
namespace {

using testing::CertSpec;
using testing::Issue;
using testing::IssueCrl;
using testing::TestPki;

const std::string kData = std::string(KMRA_TEST_DATA) + "/dcap/";
constexpr int64_t kAt = 1700000000;  // inside every validity window of TestPki

std::vector<Certificate> Chain(const std::string& file) {
  auto text = ReadFileText(kData + file);
  EXPECT_TRUE(text) << file;
  auto chain = Certificate::ParsePemChain(*text);
  EXPECT_TRUE(chain) << chain.error().message();
  return *chain;
}

Crl LoadCrl(const std::string& file) {
  auto bytes = ReadFileBytes(kData + file);
  EXPECT_TRUE(bytes) << file;
  auto crl = Crl::Parse(*bytes);
  EXPECT_TRUE(crl) << crl.error().message();
  return *crl;
}

ChainVerification Verify(const Certificate& leaf, std::vector<Certificate> mids,
                         const Certificate& root, std::vector<Crl> crls, int64_t at,
                         CrlPolicy policy = CrlPolicy::kAll) {
  return VerifyChain(leaf, mids, root, crls, ChainOptions{at, policy});
}

// ---- Intel's production PKI (real collateral) ----

TEST(X509IntelTest, TcbSigningChainVerifiesAgainstProductionRoot) {
  auto chain = Chain("dcap-qvl_sgx/tcbSignChain.pem");
  ASSERT_EQ(chain.size(), 2u);
  auto root = Chain("IntelSGXRootCA.pem").at(0);
  EXPECT_EQ(HexEncodeUpper(root.Sha256Fingerprint()),
            "44A0196B2B99F889B8E149E95B807A350E7424964399E885A7CBB8CCFAB674D3");
  EXPECT_EQ(chain[0].SubjectCommonName(), "Intel SGX TCB Signing");
  EXPECT_EQ(chain[0].Subject(),
            "CN=Intel SGX TCB Signing,O=Intel Corporation,L=Santa Clara,ST=CA,C=US");
  EXPECT_EQ(chain[0].Issuer(), root.Subject());
  EXPECT_TRUE(root.IsCa());
  EXPECT_TRUE(root.IsSelfSigned());
  EXPECT_FALSE(chain[0].IsSelfSigned());
  EXPECT_TRUE(chain[0].VerifySignedBy(*root.PublicKey()));
  EXPECT_TRUE(chain[1] == root);

  auto root_crl = LoadCrl("dcap-qvl_sgx/rootCaCrl.der");
  EXPECT_EQ(root_crl.Issuer(), root.Subject());
  EXPECT_TRUE(root_crl.VerifySignedBy(*root.PublicKey()));
  auto v = Verify(chain[0], {chain[1]}, root, {root_crl}, 1752919277);
  EXPECT_TRUE(v.ok()) << v.message;
}

TEST(X509IntelTest, CrlWindowIsEnforced) {
  auto chain = Chain("dcap-qvl_sgx/tcbSignChain.pem");
  auto root = chain[1];
  auto root_crl = LoadCrl("dcap-qvl_sgx/rootCaCrl.pem");
  EXPECT_EQ(FormatRfc3339(root_crl.ThisUpdate()), "2025-03-20T11:21:57Z");
  EXPECT_EQ(FormatRfc3339(*root_crl.NextUpdate()), "2026-04-03T11:21:57Z");
  auto late = Verify(chain[0], {}, root, {root_crl}, 1775300000);
  EXPECT_EQ(late.check, ChainCheck::kCrlExpired) << late.message;
  EXPECT_NE(late.message.find("expired at 2026-04-03T11:21:57Z"), std::string::npos) << late.message;
  auto early = Verify(chain[0], {}, root, {root_crl}, 1742000000);
  EXPECT_EQ(early.check, ChainCheck::kCrlNotYetValid) << early.message;
  auto none = Verify(chain[0], {}, root, {}, 1752919277);
  EXPECT_EQ(none.check, ChainCheck::kCrlMissing) << none.message;
  EXPECT_TRUE(Verify(chain[0], {}, root, {}, 1752919277, CrlPolicy::kNone).ok());
}

TEST(X509IntelTest, TestPkiWithIntelNamesFailsAgainstProductionRoot) {
  // Intel's QVL sample PKI reuses the name "Intel SGX Root CA" with a test key.
  auto pck = Chain("intel_qvl_sample_sgx/pckChain.pem");
  ASSERT_EQ(pck.size(), 3u);
  auto crls = std::vector<Crl>{LoadCrl("intel_qvl_sample_sgx/pckCrl.der"),
                               LoadCrl("intel_qvl_sample_sgx/rootCaCrl.der")};
  auto own_root = Chain("intel_qvl_sample_sgx/trustedRootCaCert.pem").at(0);
  auto ok = Verify(pck[0], {pck[1], pck[2]}, own_root, crls, 1700000000);
  EXPECT_TRUE(ok.ok()) << ok.message;
  auto production = Chain("IntelSGXRootCA.pem").at(0);
  EXPECT_EQ(production.Subject(), own_root.Subject());
  auto bad = Verify(pck[0], {pck[1], pck[2]}, production, crls, 1700000000);
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(bad.check == ChainCheck::kUntrusted || bad.check == ChainCheck::kBadSignature)
      << ChainCheckName(bad.check) << ": " << bad.message;
  // The PCK certificate carries the SGX extension (a DER SEQUENCE).
  auto ext = pck[0].Extension("1.2.840.113741.1.13.1");
  ASSERT_TRUE(ext) << ext.error().message();
  EXPECT_EQ((*ext)[0], 0x30);
  EXPECT_EQ(HexEncode(pck[0].Serial()), "ba27043775e12ff5cdf754f99b5f3ac23e9e02d5");
  auto missing = pck[0].Extension("1.2.3.4");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
}

// ---- generated PKI: every failure mode ----

TEST(X509ChainTest, ValidChainPasses) {
  TestPki pki;
  auto v = Verify(pki.leaf, {pki.ca}, pki.root, {pki.root_crl, pki.ca_crl}, kAt);
  EXPECT_TRUE(v.ok()) << v.message;
  EXPECT_EQ(ChainCheckName(v.check), "ok");
  // Intermediates in any order, with a copy of the root among them.
  EXPECT_TRUE(Verify(pki.leaf, {pki.root, pki.ca}, pki.root, {pki.ca_crl, pki.root_crl}, kAt).ok());
}

TEST(X509ChainTest, RevokedLeafAndRevokedCa) {
  TestPki pki;
  auto leaf_crl = IssueCrl(pki.ca, pki.ca_key, 1690000000, 1710000000, {7, 3});
  EXPECT_TRUE(leaf_crl.IsRevoked(pki.leaf));
  EXPECT_EQ(leaf_crl.RevokedSerials().size(), 2u);
  auto v = Verify(pki.leaf, {pki.ca}, pki.root, {pki.root_crl, leaf_crl}, kAt);
  EXPECT_EQ(v.check, ChainCheck::kRevoked);
  EXPECT_EQ(v.depth, 0);
  EXPECT_NE(v.message.find("serial 03 is revoked by the CRL of 'O=OpenKMRA Test,CN=Test Platform CA"),
            std::string::npos) << v.message;
  auto root_crl = IssueCrl(pki.root, pki.root_key, 1690000000, 1710000000, {2});
  auto w = Verify(pki.leaf, {pki.ca}, pki.root, {root_crl, pki.ca_crl}, kAt);
  EXPECT_EQ(w.check, ChainCheck::kRevoked);
  EXPECT_EQ(w.depth, 1);
  EXPECT_EQ(w.subject, "O=OpenKMRA Test,CN=Test Platform CA");
}

TEST(X509ChainTest, ValidityWindows) {
  TestPki pki;
  auto expired = Verify(pki.leaf, {pki.ca}, pki.root, {}, 1800000001, CrlPolicy::kNone);
  EXPECT_EQ(expired.check, ChainCheck::kExpired);
  EXPECT_EQ(expired.message,
            "certificate 'O=OpenKMRA Test,CN=Test PCK Certificate' (depth 0) expired at "
            "2027-01-15T08:00:00Z; verification time 2027-01-15T08:00:01Z");
  auto early = Verify(pki.leaf, {pki.ca}, pki.root, {}, 1649999999, CrlPolicy::kNone);
  EXPECT_EQ(early.check, ChainCheck::kNotYetValid);
  EXPECT_NE(early.message.find("valid only from 2022-04-15T05:20:00Z"), std::string::npos)
      << early.message;
  EXPECT_EQ(pki.leaf.NotBefore(), 1650000000);
  EXPECT_EQ(pki.leaf.NotAfter(), 1800000000);
}

TEST(X509ChainTest, CrlPolicies) {
  TestPki pki;
  EXPECT_TRUE(Verify(pki.leaf, {pki.ca}, pki.root, {pki.ca_crl}, kAt, CrlPolicy::kLeaf).ok());
  auto all = Verify(pki.leaf, {pki.ca}, pki.root, {pki.ca_crl}, kAt, CrlPolicy::kAll);
  EXPECT_EQ(all.check, ChainCheck::kCrlMissing) << all.message;
  EXPECT_EQ(all.depth, 1);
  auto stale = IssueCrl(pki.ca, pki.ca_key, 1600000000, 1650000000, {});
  auto v = Verify(pki.leaf, {pki.ca}, pki.root, {pki.root_crl, stale}, kAt);
  EXPECT_EQ(v.check, ChainCheck::kCrlExpired) << v.message;
}

TEST(X509ChainTest, ForgedCrlAndForgedCertificate) {
  TestPki pki;
  auto other = *GenerateEcKey(EcCurve::kP256);
  // A CRL with the CA's name, signed by another key.
  auto forged_crl = IssueCrl(pki.ca, other, 1690000000, 1710000000, {});
  EXPECT_FALSE(forged_crl.VerifySignedBy(*pki.ca_key.PublicKey()));
  auto v = Verify(pki.leaf, {pki.ca}, pki.root, {pki.root_crl, forged_crl}, kAt);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.check == ChainCheck::kCrlBadSignature || v.check == ChainCheck::kCrlMissing)
      << ChainCheckName(v.check) << ": " << v.message;
  // A leaf with the CA's name as issuer, signed by another key.
  auto forged = Issue({"Test PCK Certificate", 3, 1650000000, 1800000000, false},
                      *pki.leaf_key.PublicKey(), &pki.ca, other);
  auto w = Verify(forged, {pki.ca}, pki.root, {pki.root_crl, pki.ca_crl}, kAt);
  EXPECT_EQ(w.check, ChainCheck::kBadSignature) << w.message;
  EXPECT_FALSE(forged.VerifySignedBy(*pki.ca_key.PublicKey()));
  // A whole chain under a look-alike root.
  auto fake_root = Issue({"Test Root CA", 1, 1600000000, 2000000000, true}, *other.PublicKey(),
                         nullptr, other);
  auto u = Verify(pki.leaf, {pki.ca, fake_root}, pki.root,
                  {pki.root_crl, pki.ca_crl}, kAt);
  EXPECT_TRUE(u.ok()) << u.message;  // the real root is pinned: the fake in the pile is ignored
  auto x = Verify(pki.leaf, {pki.ca}, fake_root, {}, kAt, CrlPolicy::kNone);
  EXPECT_FALSE(x.ok());
  EXPECT_TRUE(x.check == ChainCheck::kUntrusted || x.check == ChainCheck::kBadSignature)
      << ChainCheckName(x.check);
}

TEST(X509ChainTest, NonCaIssuerIsRejected) {
  TestPki pki;
  // The leaf (not a CA) issues another certificate.
  auto sub = Issue({"Sub", 9, 1650000000, 1800000000, false}, *pki.leaf_key.PublicKey(), &pki.leaf,
                   pki.leaf_key);
  auto v = Verify(sub, {pki.leaf, pki.ca}, pki.root, {}, kAt, CrlPolicy::kNone);
  EXPECT_EQ(v.check, ChainCheck::kNotCa) << ChainCheckName(v.check) << ": " << v.message;
}

TEST(X509ParseTest, BadInputIsNamed) {
  TestPki pki;
  auto der = pki.leaf.ToDer();
  EXPECT_TRUE(Certificate::FromDer(der));
  auto truncated = Certificate::FromDer(std::span(der).first(der.size() - 1));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code(), Code::kInvalidArgument);
  EXPECT_NE(truncated.error().message().find("not valid DER X.509"), std::string::npos);
  der.push_back(0);
  EXPECT_NE(Certificate::FromDer(der).error().message().find("1 trailing bytes"),
            std::string::npos);
  std::string chain = pki.leaf.ToPem() + pki.ca.ToPem();
  EXPECT_EQ(Certificate::ParsePemChain(chain)->size(), 2u);
  std::string broken = pki.leaf.ToPem() +
                       "-----BEGIN CERTIFICATE-----\nMIIBroken==\n-----END CERTIFICATE-----\n";
  auto r = Certificate::ParsePemChain(broken);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("certificate 2 of the chain"), std::string::npos);
  EXPECT_NE(Certificate::ParsePemChain("nothing here").error().message().find("no PEM certificate"),
            std::string::npos);
  auto crl = pki.ca_crl.ToDer();
  EXPECT_NE(Crl::FromDer(std::span(crl).first(20)).error().message().find("CRL is not valid DER"),
            std::string::npos);
  EXPECT_FALSE(Crl::Parse(std::vector<uint8_t>{}));
  std::string pem = pki.ca.ToPem();
  EXPECT_TRUE(Certificate::Parse(std::vector<uint8_t>(pem.begin(), pem.end())));
}

TEST(X509ParseTest, ExtensionsAndCopies) {
  TestPki pki;
  CertSpec spec{"With Ext", 5, 1650000000, 1800000000, false, "1.2.840.113741.1.13.1", {0x30, 0x00}};
  auto c = Issue(spec, *pki.leaf_key.PublicKey(), &pki.ca, pki.ca_key);
  EXPECT_EQ(*c.Extension("1.2.840.113741.1.13.1"), (std::vector<uint8_t>{0x30, 0x00}));
  EXPECT_EQ(c.Extension("not an oid").error().code(), Code::kInvalidArgument);
  Certificate copy = c;  // shares the object
  EXPECT_TRUE(copy == c);
  EXPECT_TRUE(copy.PublicKey()->Equals(*pki.leaf_key.PublicKey()));
}

}  // namespace
}  // namespace kmra::crypto
