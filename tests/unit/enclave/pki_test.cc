#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <set>

#include "base/file.h"
#include "base/hex.h"
#include "enclave/internal/p256.h"
#include "enclave/pki/der.h"
#include "enclave/pki/pki_init.h"
#include "enclave/pki/sim_collateral.h"
#include "sim_pki_fixture.h"

namespace kmra::enclave::pki {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// A skeleton of a DER tree: tags, OIDs and lengths of strings, but not the INTEGER/ENUMERATED
// values (SVNs differ between platforms). Two SGX extensions with the same skeleton are encoded
// the same way.
std::string Skeleton(const std::uint8_t*& p, const std::uint8_t* end) {
  std::string out;
  while (p < end) {
    const std::uint8_t tag = *p++;
    std::size_t len = *p++;
    if (len & 0x80) {
      const int n = len & 0x7f;
      len = 0;
      for (int i = 0; i < n; ++i) len = (len << 8) | *p++;
    }
    const std::uint8_t* content = p;
    p += len;
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%02x", tag);
    out += buf;
    if (tag & 0x20) {
      out += "{" + Skeleton(content, content + len) + "}";
    } else if (tag == 0x06) {
      out += ":" + HexEncode(std::span(content, len));
    } else if (tag == 0x04 || tag == 0x01) {
      out += "(" + std::to_string(len) + ")";
    }
    out += ",";
  }
  return out;
}

std::string SgxExtensionSkeleton(X509* cert) {
  auto obj = ossl::Wrap(OBJ_txt2obj("1.2.840.113741.1.13.1", 1));
  int idx = X509_get_ext_by_OBJ(cert, obj.get(), -1);
  if (idx < 0) return "";
  X509_EXTENSION* ext = X509_get_ext(cert, idx);
  ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
  const std::uint8_t* p = ASN1_STRING_get0_data(data);
  return Skeleton(p, p + ASN1_STRING_length(data));
}

std::vector<ossl::Ptr<X509>> ReadCerts(const std::string& pem) {
  std::vector<ossl::Ptr<X509>> certs;
  auto bio = ossl::Wrap(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.push_back(ossl::Wrap(c));
  }
  ERR_clear_error();
  return certs;
}

std::string SubjectField(X509* cert, int nid) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), nid, buf, sizeof(buf));
  return buf;
}

class PkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    testing::MakePki(dir_->path(),
                     {SimPlatformSpec{}, SimPlatformSpec{TcbProfile::kOutOfDate, false},
                      SimPlatformSpec{TcbProfile::kUpToDate, true}});
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path Dir() { return dir_->path(); }
  static TempDir* dir_;
};
TempDir* PkiTest::dir_ = nullptr;

TEST_F(PkiTest, PckExtensionIsEncodedExactlyLikeIntelsPlatformCaCertificates) {
  // The real TDX quote's PCK leaf is issued by Intel's PCK Platform CA (extension .1-.7).
  auto quote = ReadFileBytes(fs::path(KMRA_TEST_DATA) / "dcap" / "dcap-qvl_tdx" / "quote.bin");
  ASSERT_TRUE(quote);
  std::string real_chain(quote->begin() + 1258, quote->end());
  auto real = ReadCerts(real_chain);
  ASSERT_EQ(real.size(), 3u);
  auto chain = ReadFileText(Dir() / "sgx" / "platform-1" / "pck_chain.pem");
  ASSERT_TRUE(chain);
  auto ours = ReadCerts(*chain);
  ASSERT_EQ(ours.size(), 3u);
  const std::string intel = SgxExtensionSkeleton(real[0].get());
  ASSERT_FALSE(intel.empty());
  EXPECT_EQ(SgxExtensionSkeleton(ours[0].get()), intel);
  // Names fit QVL's CN checks ("SGX PCK Certificate", "CA", "SGX Root CA").
  EXPECT_EQ(SubjectField(ours[0].get(), NID_commonName), "OpenKMRA Simulated SGX PCK Certificate");
  EXPECT_EQ(SubjectField(ours[1].get(), NID_commonName), "OpenKMRA Simulated SGX PCK Platform CA");
  EXPECT_EQ(SubjectField(ours[2].get(), NID_commonName), "OpenKMRA Simulated SGX Root CA");
  // Same extension set and criticality as Intel's leaf.
  ASSERT_EQ(X509_get_ext_count(ours[0].get()), X509_get_ext_count(real[0].get()));
  for (int i = 0; i < X509_get_ext_count(real[0].get()); ++i) {
    X509_EXTENSION* a = X509_get_ext(real[0].get(), i);
    X509_EXTENSION* b = X509_get_ext(ours[0].get(), i);
    EXPECT_EQ(OBJ_cmp(X509_EXTENSION_get_object(a), X509_EXTENSION_get_object(b)), 0) << i;
    EXPECT_EQ(X509_EXTENSION_get_critical(a), X509_EXTENSION_get_critical(b)) << i;
  }
}

TEST_F(PkiTest, ChainVerifiesAndTheRevokedPlatformIsOnThePckCrl) {
  auto root = ReadCerts(*ReadFileText(Dir() / "sgx" / "root.pem"));
  ASSERT_EQ(root.size(), 1u);
  auto crl_der = ReadFileBytes(Dir() / "collateral" / kSimFmspc / "pckCrl.der");
  ASSERT_TRUE(crl_der);
  const unsigned char* p = crl_der->data();
  auto crl = ossl::Wrap(d2i_X509_CRL(nullptr, &p, static_cast<long>(crl_der->size())));
  ASSERT_TRUE(crl);
  for (int n = 1; n <= 3; ++n) {
    auto chain = ReadCerts(
        *ReadFileText(Dir() / "sgx" / ("platform-" + std::to_string(n)) / "pck_chain.pem"));
    ASSERT_EQ(chain.size(), 3u);
    auto store = ossl::Wrap(X509_STORE_new());
    X509_STORE_add_cert(store.get(), root[0].get());
    auto untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, chain[1].get());
    auto ctx = ossl::Wrap(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted);
    X509_STORE_CTX_set_time(ctx.get(), 0, testing::kPkiTime);
    EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
        << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    sk_X509_free(untrusted);
    X509_REVOKED* revoked = nullptr;
    const bool listed = X509_CRL_get0_by_cert(crl.get(), &revoked, chain[0].get()) == 1;
    EXPECT_EQ(listed, n == 3) << "platform " << n;
  }
}

TEST_F(PkiTest, CollateralHasTheLayoutOfAnIntelBundleAndValidSignatures) {
  const fs::path c = Dir() / "collateral" / kSimFmspc;
  std::set<std::string> ours;
  for (const auto& e : fs::directory_iterator(c)) ours.insert(e.path().filename().string());
  // Every collateral file of the real case exists here too (the real one adds the quote, notes and
  // the README that names its origin).
  for (const auto& e : fs::directory_iterator(fs::path(KMRA_TEST_DATA) / "dcap" / "dcap-qvl_sgx")) {
    const std::string name = e.path().filename().string();
    if (name == "quote.bin" || name == "case.json" || name == "quote_dump.txt" ||
        name == "README.md") {
      continue;
    }
    if (name == "trustedRootCaCert.pem") {
      EXPECT_FALSE(ours.count(name)) << "trust in the simulated root must be explicit";
      continue;
    }
    EXPECT_TRUE(ours.count(name)) << name;
  }

  auto signing = ReadCerts(*ReadFileText(c / "tcbSignChain.pem"));
  ASSERT_EQ(signing.size(), 2u);
  EXPECT_EQ(SubjectField(signing[0].get(), NID_commonName), "OpenKMRA Simulated SGX TCB Signing");
  auto key = ossl::Wrap(X509_get_pubkey(signing[0].get()));
  for (const auto& [file, field] : {std::pair{"tcbInfo.json", "tcbInfo"},
                                    std::pair{"qeIdentity.json", "enclaveIdentity"}}) {
    auto text = ReadFileText(c / file);
    ASSERT_TRUE(text);
    const std::string prefix = std::string("{\"") + field + "\":";
    ASSERT_EQ(text->rfind(prefix, 0), 0u) << file;
    const auto sig_pos = text->rfind(",\"signature\":\"");
    ASSERT_NE(sig_pos, std::string::npos);
    const std::string body = text->substr(prefix.size(), sig_pos - prefix.size());
    auto sig = HexDecode(text->substr(sig_pos + 14, 128));
    ASSERT_TRUE(sig && sig->size() == 64) << file;
    EXPECT_TRUE(internal::VerifyP256Raw(
        key.get(), std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()),
        std::span<const std::uint8_t, 64>(sig->data(), 64)))
        << file;
  }
  auto tcb = ReadFileText(c / "tcbInfo.json");
  for (const char* status : {"UpToDate", "SWHardeningNeeded", "OutOfDate", "Revoked"}) {
    EXPECT_NE(tcb->find(std::string("\"tcbStatus\":\"") + status + "\""), std::string::npos);
  }
  EXPECT_NE(tcb->find("\"fmspc\":\"0FF1CE000000\""), std::string::npos);
  EXPECT_NE(tcb->find("\"advisoryIDs\":[\"INTEL-SA-00615\"]"), std::string::npos);
}

TEST_F(PkiTest, SecretsAreOwnerOnly) {
  auto mode = [](const fs::path& p) {
    struct stat st {};
    stat(p.c_str(), &st);
    return st.st_mode & 0777;
  };
  EXPECT_EQ(mode(Dir()), 0700u);
  EXPECT_EQ(mode(Dir() / "tls"), 0700u);
  EXPECT_EQ(mode(Dir() / "tls" / "ca.key"), 0600u);
  EXPECT_EQ(mode(Dir() / "tls" / "server.key"), 0600u);
  EXPECT_EQ(mode(Dir() / "sgx" / "private" / "root_key.pem"), 0600u);
  EXPECT_EQ(mode(Dir() / "sgx" / "platform-1"), 0700u);
  EXPECT_EQ(mode(Dir() / "sgx" / "platform-1" / "attestation_key.pem"), 0600u);
  EXPECT_EQ(mode(Dir() / "sgx" / "platform-1" / "sealing_secret.bin"), 0600u);
}

TEST_F(PkiTest, TlsCertificatesCarryTheKmraIdentities) {
  auto ca = ReadCerts(*ReadFileText(Dir() / "tls" / "ca.pem"));
  auto server = ReadCerts(*ReadFileText(Dir() / "tls" / "server.pem"));
  auto client = ReadCerts(*ReadFileText(Dir() / "tls" / "client.pem"));
  auto admin = ReadCerts(*ReadFileText(Dir() / "tls" / "admin.pem"));
  ASSERT_EQ(ca.size() + server.size() + client.size() + admin.size(), 4u);
  EXPECT_EQ(SubjectField(client[0].get(), NID_organizationalUnitName), kDefaultClientId);
  EXPECT_EQ(SubjectField(admin[0].get(), NID_organizationalUnitName), kAdminOu);
  EXPECT_EQ(X509_check_host(server[0].get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server[0].get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(server[0].get(), "evil.example", 0, 0, nullptr), 0);
  auto ca_key = ossl::Wrap(X509_get_pubkey(ca[0].get()));
  EXPECT_EQ(X509_verify(client[0].get(), ca_key.get()), 1);
}

TEST(PkiInit, ExtraSansAndClientId) {
  TempDir dir;
  PkiInitOptions o;
  o.dir = dir.path() / "pki";
  o.tls.now = o.sgx.now = testing::kPkiTime;
  o.tls.extra_sans = {"kmra.example", "10.1.2.3"};
  o.tls.client_id = "tenant_7";
  ASSERT_TRUE(PkiInit(o));
  auto server = ReadCerts(*ReadFileText(o.dir / "tls" / "server.pem"));
  EXPECT_EQ(X509_check_host(server[0].get(), "kmra.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server[0].get(), "10.1.2.3", 0), 1);
  auto client = ReadCerts(*ReadFileText(o.dir / "tls" / "client.pem"));
  EXPECT_EQ(SubjectField(client[0].get(), NID_organizationalUnitName), "tenant_7");

  // A second init refuses without force and replaces with it.
  auto again = PkiInit(o);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kAlreadyExists);
  EXPECT_NE(again.error().message().find("--force"), std::string::npos);
  o.force = true;
  EXPECT_TRUE(PkiInit(o));
  auto server2 = ReadCerts(*ReadFileText(o.dir / "tls" / "server.pem"));
  EXPECT_NE(X509_cmp(server[0].get(), server2[0].get()), 0);
}

TEST(PkiInit, ExpiredCollateralIsStaleAtIssueTime) {
  TempDir dir;
  testing::MakePki(dir.path(), {SimPlatformSpec{}}, /*expired=*/true);
  auto tcb = ReadFileText(dir.path() / "collateral" / kSimFmspc / "tcbInfo.json");
  ASSERT_TRUE(tcb);
  // kPkiTime is 2026-01-15; expired collateral had its nextUpdate the day before.
  EXPECT_NE(tcb->find("\"nextUpdate\":\"2026-01-14T00:00:00Z\""), std::string::npos) << *tcb;
}

TEST(PkiSign, SignsAValidCsrAndRefusesATamperedOne) {
  TempDir dir;
  testing::MakePki(dir.path(), {SimPlatformSpec{}});
  auto key = internal::GenerateP256();
  ASSERT_TRUE(key);
  auto req = ossl::Wrap(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("www.example.org"), -1, -1, 0);
  auto exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name,
                                                   "DNS:www.example.org"));
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_set_pubkey(req.get(), key->get());
  ASSERT_GT(X509_REQ_sign(req.get(), key->get(), EVP_sha256()), 0);
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  const std::string csr(data, static_cast<std::size_t>(len));

  auto cert_pem = SignCsr(dir.path(), csr, 30, testing::kPkiTime);
  ASSERT_TRUE(cert_pem) << cert_pem.error().ToString();
  auto cert = ReadCerts(*cert_pem);
  ASSERT_EQ(cert.size(), 1u);
  EXPECT_EQ(SubjectField(cert[0].get(), NID_commonName), "www.example.org");
  EXPECT_EQ(X509_check_host(cert[0].get(), "www.example.org", 0, 0, nullptr), 1);
  auto ca = ReadCerts(*ReadFileText(dir.path() / "tls" / "ca.pem"));
  auto ca_key = ossl::Wrap(X509_get_pubkey(ca[0].get()));
  EXPECT_EQ(X509_verify(cert[0].get(), ca_key.get()), 1);
  EXPECT_EQ(X509_cmp(cert[0].get(), cert[0].get()), 0);
  auto cert_key = ossl::Wrap(X509_get_pubkey(cert[0].get()));
  EXPECT_EQ(EVP_PKEY_eq(cert_key.get(), key->get()), 1);

  // Change the subject after signing: the request's own signature no longer verifies.
  unsigned char* der = nullptr;
  int der_len = i2d_X509_REQ(req.get(), &der);
  ASSERT_GT(der_len, 0);
  std::string bytes(reinterpret_cast<char*>(der), static_cast<std::size_t>(der_len));
  OPENSSL_free(der);
  const auto at = bytes.find("www.example.org");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 15, "www.example.com");
  const unsigned char* dp = reinterpret_cast<const unsigned char*>(bytes.data());
  auto altered = ossl::Wrap(d2i_X509_REQ(nullptr, &dp, static_cast<long>(bytes.size())));
  ASSERT_TRUE(altered);
  auto bio2 = ossl::Wrap(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio2.get(), altered.get());
  len = BIO_get_mem_data(bio2.get(), &data);
  auto tampered = SignCsr(dir.path(), std::string(data, static_cast<std::size_t>(len)), 30,
                          testing::kPkiTime);
  ASSERT_FALSE(tampered);
  EXPECT_NE(tampered.error().message().find("signature"), std::string::npos);

  auto garbage = SignCsr(dir.path(), "not a csr", 30, testing::kPkiTime);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code(), Code::kInvalidArgument);
  EXPECT_NE(garbage.error().message().find("CERTIFICATE REQUEST"), std::string::npos);
}

TEST(Der, EncodesLikeX690) {
  EXPECT_EQ(HexEncode(der::Integer(255)), "020200ff");
  EXPECT_EQ(HexEncode(der::Integer(0)), "020100");
  EXPECT_EQ(HexEncode(der::Integer(13)), "02010d");
  EXPECT_EQ(HexEncode(der::Oid("1.2.840.113741.1.13.1")), "06092a864886f84d010d01");
  EXPECT_EQ(HexEncode(der::Boolean(true)), "0101ff");
  EXPECT_EQ(HexEncode(der::Enumerated(1)), "0a0101");
  std::vector<std::uint8_t> big(300, 0);
  auto t = der::OctetString(big);
  EXPECT_EQ(HexEncode(std::span(t.data(), 4)), "0482012c");
}

}  // namespace
}  // namespace kmra::enclave::pki
