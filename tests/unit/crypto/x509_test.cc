// The X.509 and CRL code the DCAP verifier runs (crypto/x509.h, crypto/crl.h): the DER-direct
// certificate parser against OpenSSL's on every certificate of the test data, its refusals, and
// the signature, name and revocation checks.
#include "crypto/x509.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/base64.h"
#include "base/file.h"
#include "base/hex.h"
#include "crypto/crl.h"
#include "test_pki.h"
#include "x509_reference.h"

namespace kmra::crypto {
namespace {

using testing::CertSpec;
using testing::Issue;
using testing::IssueCrl;
using testing::IssueX509;
using testing::TestPki;
using testing::ToDer;

const std::string kData = std::string(KMRA_TEST_DATA) + "/dcap/";

std::vector<Cert> Chain(const std::string& file) {
  auto text = ReadFileText(kData + file);
  EXPECT_TRUE(text) << file;
  auto chain = ParsePemChain(*text, file);
  EXPECT_TRUE(chain) << chain.error().message();
  return chain ? *chain : std::vector<Cert>{};
}

Crl LoadCrl(const std::string& file) {
  auto bytes = ReadFileBytes(kData + file);
  EXPECT_TRUE(bytes) << file;
  auto crl = ParseCrl(*bytes, file);
  EXPECT_TRUE(crl) << crl.error().message();
  return std::move(*crl);
}

void ExpectSameAsOpenSsl(const Cert& c, const std::string& where) {
  auto x = testing::OpenSslCert(c.der);
  ASSERT_TRUE(x) << where << ": OpenSSL refuses a certificate we accept";
  EXPECT_EQ(testing::DifferenceFromOpenSsl(c, x.get()), "") << where;
}

// ---- the DER-direct parser reads what OpenSSL reads ----

TEST(X509DifferentialTest, EveryTestDataCertificateMatchesOpenSsl) {
  int certs = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kData)) {
    if (!entry.is_regular_file()) continue;
    auto text = ReadFileText(entry.path().string());  // PEM files, and quotes carrying a chain
    ASSERT_TRUE(text);
    if (text->find("BEGIN CERTIFICATE") == std::string::npos) continue;
    auto chain = ParsePemChain(*text, entry.path().string());
    ASSERT_TRUE(chain) << chain.error().message();
    for (size_t i = 0; i < chain->size(); ++i) {
      ExpectSameAsOpenSsl((*chain)[i], entry.path().string() + " #" + std::to_string(i + 1));
      ++certs;
    }
  }
  EXPECT_GE(certs, 40);  // 28 in PEM files, 3 in each quote with a PCK chain
}

TEST(X509DifferentialTest, GeneratedCertificatesMatchOpenSsl) {
  TestPki pki;
  for (const Cert* c : {&pki.root, &pki.ca, &pki.leaf}) ExpectSameAsOpenSsl(*c, c->subject_cn);
  CertSpec spec{"With Ext",  0x80, 1650000000, 2600000000, false, "1.2.840.113741.1.13.1",
                {0x30, 0x00}};  // a serial with the sign bit, a GeneralizedTime notAfter
  Cert c = Issue(spec, *pki.leaf_key.PublicKey(), &pki.ca, pki.ca_key);
  ExpectSameAsOpenSsl(c, "with extension");
  EXPECT_EQ(c.serial_hex, "80");
  EXPECT_EQ(c.not_after, 2600000000);
  static constexpr uint8_t kSgxOid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
  ASSERT_NE(c.Extension(kSgxOid), nullptr);
  EXPECT_EQ(c.Extension(kSgxOid)->value, (std::vector<uint8_t>{0x30, 0x00}));
}

// ---- strict: what does not fit is refused, and says why ----

std::string Refusal(const std::vector<uint8_t>& der) {
  auto c = ParseDerCert(der, "the certificate");
  return c ? "accepted" : c.error().message();
}

TEST(X509StrictTest, MalformedEncodingsAreRefusedByName) {
  TestPki pki;
  const std::vector<uint8_t> good = pki.leaf.der;
  EXPECT_EQ(Refusal(good), "accepted");
  auto trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(Refusal(trailing), "the certificate is not a DER certificate: 1 trailing bytes");
  EXPECT_NE(Refusal({good.begin(), good.end() - 1}).find("no DER SEQUENCE"), std::string::npos);
  auto wrong_tag = good;
  wrong_tag[0] = 0x31;
  EXPECT_NE(Refusal(wrong_tag).find("no DER SEQUENCE"), std::string::npos);
  // The outer length with a needless leading zero byte (0x82 LL LL -> 0x83 00 LL LL).
  ASSERT_EQ(good[1], 0x82);
  std::vector<uint8_t> long_len{0x30, 0x83, 0x00};
  long_len.insert(long_len.end(), good.begin() + 2, good.end());
  EXPECT_NE(Refusal(long_len).find("no DER SEQUENCE"), std::string::npos);
  // A flipped byte inside the signature value breaks the DER integer or the signature.
  auto bad_sig = good;
  bad_sig[bad_sig.size() - 40] ^= 0x01;
  auto parsed = ParseDerCert(bad_sig, "x");
  if (parsed) {
    EXPECT_FALSE(SignedBy(*parsed, *pki.ca_key.PublicKey()));
  }
  EXPECT_TRUE(SignedBy(pki.leaf, *pki.ca_key.PublicKey()));
}

TEST(X509StrictTest, UnsupportedAlgorithmsAndKeysAreRefused) {
  TestPki pki;
  auto p384 = *GenerateEcKey(EcCurve::kP384);
  // A P-384 subject key.
  auto x = IssueX509({"P-384 key", 5, 1650000000, 1800000000, false}, *p384.PublicKey(), &pki.ca,
                     pki.ca_key);
  EXPECT_NE(Refusal(ToDer(x.get())).find("not an EC P-256 key"), std::string::npos);
  // Signed by a P-384 key: OpenSSL picks ecdsa-with-SHA256 for the digest given, so change the
  // digest instead: SHA-384 gives ecdsa-with-SHA384.
  auto y = IssueX509({"SHA-384", 6, 1650000000, 1800000000, false}, *pki.leaf_key.PublicKey(),
                     &pki.ca, pki.ca_key);
  ASSERT_GT(X509_sign(y.get(), pki.ca_key.get(), EVP_sha384()), 0);
  EXPECT_NE(Refusal(ToDer(y.get())).find("not ecdsa-with-SHA256"), std::string::npos);
  // A negative serial number.
  auto z = IssueX509({"Negative", -5, 1650000000, 1800000000, false}, *pki.leaf_key.PublicKey(),
                     &pki.ca, pki.ca_key);
  EXPECT_NE(Refusal(ToDer(z.get())).find("serial number is not a positive"), std::string::npos);
  // The legitimate certificate of the same issuer still parses and verifies.
  EXPECT_TRUE(SignedBy(pki.leaf, *pki.ca.key));
}

TEST(X509StrictTest, OnlyTheRfc5280TimeFormsAreRead) {
  auto t = [](uint8_t tag, std::string s) {
    return internal::DerTimeToUnix(tag, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  };
  EXPECT_EQ(t(0x17, "700101000000Z"), 0);
  EXPECT_EQ(t(0x17, "491231235959Z"), 2524607999);  // YY < 50 is 20YY
  EXPECT_EQ(t(0x18, "20491231235959Z"), 2524607999);
  EXPECT_EQ(t(0x18, "20240229120000Z"), 1709208000);
  EXPECT_FALSE(t(0x18, "20230229120000Z"));  // not a leap year
  EXPECT_FALSE(t(0x17, "7001010000Z"));      // no seconds
  EXPECT_FALSE(t(0x17, "700101000000+0100"));
  EXPECT_FALSE(t(0x18, "20240101000000.5Z"));
  EXPECT_FALSE(t(0x17, "701301000000Z"));
  EXPECT_FALSE(t(0x04, "700101000000Z"));
}

// ---- the checks the verifier runs ----

TEST(X509IntelTest, ProductionChainsAndCrls) {
  auto root = Chain("IntelSGXRootCA.pem").at(0);
  EXPECT_EQ(Sha256Fingerprint(root),
            "44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:7A:35:0E:74:24:96:43:99:E8:85:A7:CB:B8:CC:"
            "FA:B6:74:D3");
  EXPECT_EQ(root.serial_hex, "22650cd65a9d3489f383b49552bf501b392706ac");
  EXPECT_TRUE(SignedBy(root, *root.key));
  auto chain = Chain("dcap-qvl_sgx/tcbSignChain.pem");
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0].subject_cn, "Intel SGX TCB Signing");
  EXPECT_TRUE(IssuedBy(chain[0], root));
  EXPECT_TRUE(SignedBy(chain[0], *root.key));
  EXPECT_FALSE(SignedBy(chain[0], *chain[0].key));
  EXPECT_EQ(chain[1].der, root.der);
  EXPECT_EQ(RootFirstProblem(chain, "the chain"), "");
  std::vector<Cert> reversed{chain[1], chain[0]};
  EXPECT_NE(RootFirstProblem(reversed, "the chain").find("the chain is given root first"),
            std::string::npos);
  EXPECT_NE(DescribeCert(root).find("\"Intel SGX Root CA\" (serial 22650cd6"), std::string::npos);
  EXPECT_NE(DescribeCert(root).find("valid 2018-05-21T10:45:10Z .. 2049-12-31T23:59:59Z"),
            std::string::npos)
      << DescribeCert(root);

  Crl root_crl = LoadCrl("dcap-qvl_sgx/rootCaCrl.der");
  EXPECT_TRUE(CrlIssuedBy(root_crl, root));
  EXPECT_TRUE(CrlSignedBy(root_crl, *root.key));
  EXPECT_FALSE(CrlSignedBy(root_crl, *chain[0].key));
  EXPECT_EQ(CrlProfileProblem(root_crl), "");
  EXPECT_FALSE(Revoked(root_crl, chain[0]));

  auto pck = Chain("intel_qvl_sample_sgx/pckChain.pem");
  ASSERT_EQ(pck.size(), 3u);
  EXPECT_EQ(pck[0].serial_hex, "ba27043775e12ff5cdf754f99b5f3ac23e9e02d5");
  auto own_root = Chain("intel_qvl_sample_sgx/trustedRootCaCert.pem").at(0);
  EXPECT_TRUE(SignedBy(pck[1], *own_root.key));
  // Intel's sample PKI reuses the production root's name with another key.
  EXPECT_EQ(own_root.subject_name, root.subject_name);
  EXPECT_FALSE(SignedBy(pck[1], *root.key));
}

TEST(X509RevocationTest, ListedSerialIsRevokedAndForgedCrlDoesNotVerify) {
  TestPki pki;
  EXPECT_FALSE(Revoked(pki.ca_crl, pki.leaf));
  Crl listing = IssueCrl(pki.ca, pki.ca_key, 1690000000, 1710000000, {7, 3});
  EXPECT_TRUE(Revoked(listing, pki.leaf));
  EXPECT_TRUE(CrlSignedBy(listing, *pki.ca.key));
  EXPECT_TRUE(CrlIssuedBy(listing, pki.ca));
  EXPECT_FALSE(CrlIssuedBy(listing, pki.root));
  EXPECT_EQ(listing.this_update, 1690000000);
  EXPECT_EQ(listing.next_update, 1710000000);
  EXPECT_NE(CrlProfileProblem(listing).find("has no CRL Number extension"), std::string::npos);
  auto other = *GenerateEcKey(EcCurve::kP256);
  Crl forged = IssueCrl(pki.ca, other, 1690000000, 1710000000, {});
  EXPECT_FALSE(CrlSignedBy(forged, *pki.ca.key));
  // A leaf naming the CA as issuer but signed by another key.
  Cert forged_leaf = Issue({"Test PCK Certificate", 3, 1650000000, 1800000000, false},
                           *pki.leaf_key.PublicKey(), &pki.ca, other);
  EXPECT_TRUE(IssuedBy(forged_leaf, pki.ca));
  EXPECT_FALSE(SignedBy(forged_leaf, *pki.ca.key));
  EXPECT_TRUE(SignedBy(pki.leaf, *pki.ca.key));
  auto truncated = ParseCrl(std::span(pki.ca_crl.issuer_name), "the CRL");
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().message().rfind("the CRL is not a DER CRL", 0), 0u);
}

TEST(X509PemTest, ChainsAndKnownCertificates) {
  TestPki pki;
  auto pem = [](const Cert& c) {
    return "-----BEGIN CERTIFICATE-----\n" + Base64Encode(c.der) + "\n-----END CERTIFICATE-----\n";
  };
  auto chain = ParsePemChain(pem(pki.leaf) + "text between\n" + pem(pki.ca) + pem(pki.root),
                             "the chain", &pki.root);
  ASSERT_TRUE(chain) << chain.error().message();
  ASSERT_EQ(chain->size(), 3u);
  EXPECT_EQ((*chain)[2].key->get(), pki.root.key->get());  // the known root is not parsed again
  EXPECT_EQ((*chain)[0].der, pki.leaf.der);
  auto broken = ParsePemChain(pem(pki.leaf) +
                                  "-----BEGIN CERTIFICATE-----\nMIIB\n"
                                  "-----END CERTIFICATE-----\n",
                              "the chain");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message().find("the chain: certificate 2 is not a DER certificate"),
            std::string::npos)
      << broken.error().message();
}

}  // namespace
}  // namespace kmra::crypto
