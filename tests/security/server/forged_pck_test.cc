// A client sends quotes whose PCK certificate claims ever new FMSPCs, to make the key server create
// a collateral entry and fetch collateral for each (growing its memory, its metric labels and the
// load on the PCCS). It cannot have Intel's PCK CA sign such a leaf, so it signs it with its own
// key under the genuine CA's name, and builds a self-consistent quote with it (QE report signed by
// the forged leaf's key). The server's quote check (Attestor, as run.cc assembles it) refuses every
// one with pck_chain.untrusted, creates no collateral entry and fetches nothing for them; in the
// same test a quote from the genuine platform still verifies, before and after the flood.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <set>

#include "base/clock.h"
#include "collateral/offline_source.h"
#include "dcap/quote.h"
#include "enclave/factory.h"
#include "enclave/pki/pki_init.h"
#include "enclave/pki/x509_builder.h"
#include "enclave/quote_builder.h"
#include "integration/harness.h"
#include "server/attestor.h"
#include "server/platform_collateral.h"

namespace kmra::server {
namespace {

constexpr std::int64_t kPkiTime = 1768435200;  // 2026-01-15T00:00:00Z
constexpr int kForged = 1000;

// The server's collateral source (the offline bundles `kmra pki init` writes), counting every
// fetch the server makes.
class CountingSource final : public collateral::CollateralSource {
 public:
  explicit CountingSource(std::string dir) : inner_(std::move(dir)) {}
  using CollateralSource::Get;
  Result<dcap::Collateral> Get(const collateral::CollateralKey& key) override {
    ++fetches;
    return inner_.Get(key);
  }
  std::string Describe() const override { return inner_.Describe(); }
  std::atomic<int> fetches{0};

 private:
  collateral::OfflineSource inner_;
};

ossl::Ptr<X509> PemCert(const std::string& pem) {
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return ossl::Ptr<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// The PEM blocks of a chain, in order.
std::vector<std::string> SplitPem(const std::string& chain) {
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t begin = chain.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string::npos) break;
    const std::size_t end = chain.find(kEnd, begin);
    out.push_back(chain.substr(begin, end + kEnd.size() - begin) + "\n");
    pos = end + kEnd.size();
  }
  return out;
}

// Builds quotes like the genuine platform's, but with a PCK leaf the attacker signed itself.
class Forger {
 public:
  explicit Forger(const std::vector<std::uint8_t>& genuine) {
    auto q = dcap::ParseQuote(genuine);
    EXPECT_TRUE(q.has_value());
    if (!q) return;
    chain_ = SplitPem(q->cert_data.pck_chain_pem);
    EXPECT_EQ(chain_.size(), 3u);
    leaf_ = PemCert(chain_[0]);
    ca_ = PemCert(chain_[1]);
    // The SGX extension of the genuine leaf; its FMSPC is the simulated one.
    ossl::Ptr<ASN1_OBJECT> oid(OBJ_txt2obj("1.2.840.113741.1.13.1", 1));
    const int idx = X509_get_ext_by_OBJ(leaf_.get(), oid.get(), -1);
    EXPECT_GE(idx, 0);
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(leaf_.get(), idx));
    extension_.assign(ASN1_STRING_get0_data(data),
                      ASN1_STRING_get0_data(data) + ASN1_STRING_length(data));
    const std::vector<std::uint8_t> fmspc = {0x04, 0x06, 0x0F, 0xF1, 0xCE, 0x00, 0x00, 0x00};
    auto at = std::search(extension_.begin(), extension_.end(), fmspc.begin(), fmspc.end());
    EXPECT_NE(at, extension_.end());
    fmspc_offset_ = static_cast<std::size_t>(at - extension_.begin()) + 2;
    pck_key_.reset(EVP_EC_gen("P-256"));
    attestation_key_.reset(EVP_EC_gen("P-256"));
    header_.qe_svn = q->header.qe_svn;
    header_.pce_svn = q->header.pce_svn;
    qe_report_ = enclave::ReportBody::Parse(q->qe_report.raw);
    isv_report_ = enclave::ReportBody::Parse(q->sgx->raw);
  }

  // A quote whose PCK leaf claims FMSPC `fmspc` (6 bytes), named and laid out as the genuine one,
  // issued under the genuine PCK CA's name but signed with the attacker's key.
  std::vector<std::uint8_t> Quote(const std::array<std::uint8_t, 6>& fmspc) {
    std::vector<std::uint8_t> ext = extension_;
    std::copy(fmspc.begin(), fmspc.end(), ext.begin() + static_cast<long>(fmspc_offset_));
    enclave::pki::CertSpec spec;
    spec.subject = {{"CN", "OpenKMRA Simulated SGX PCK Certificate"},
                    {"O", "OpenKMRA Simulation"},
                    {"L", "Santa Clara"},
                    {"ST", "CA"},
                    {"C", "US"}};
    spec.subject_key = pck_key_.get();
    spec.issuer = ca_.get();
    spec.issuer_key = pck_key_.get();
    spec.not_before = kPkiTime - 86400;
    spec.not_after = kPkiTime + 365 * 86400;
    spec.key_usage = "digitalSignature,nonRepudiation";
    spec.sgx_extension = std::move(ext);
    auto leaf = enclave::pki::IssueCertificate(spec);
    EXPECT_TRUE(leaf.has_value());
    if (!leaf) return {};
    const std::string chain = enclave::pki::CertPem(leaf->get()) + chain_[1] + chain_[2];
    auto qe = enclave::SignQeReport(qe_report_, attestation_key_.get(), pck_key_.get(),
                                    enclave::DefaultQeAuthData(), chain);
    EXPECT_TRUE(qe.has_value());
    if (!qe) return {};
    auto quote = enclave::BuildQuoteV3(header_, isv_report_, attestation_key_.get(), *qe);
    EXPECT_TRUE(quote.has_value());
    return quote ? *quote : std::vector<std::uint8_t>{};
  }

 private:
  std::vector<std::string> chain_;
  ossl::Ptr<X509> leaf_;
  ossl::Ptr<X509> ca_;
  std::vector<std::uint8_t> extension_;
  std::size_t fmspc_offset_ = 0;
  ossl::Ptr<EVP_PKEY> pck_key_;
  ossl::Ptr<EVP_PKEY> attestation_key_;
  enclave::QuoteHeaderV3 header_;
  enclave::ReportBody qe_report_;
  enclave::ReportBody isv_report_;
};

std::string Failures(const AttestationResult& r) {
  std::string s;
  for (const auto& f : r.failures) s += f.code + ": " + f.message + "\n";
  return s;
}

TEST(ForgedPckTest, LeavesClaimingNewFmspcsCreateNoCollateralEntryAndFetchNothing) {
  integration::TempDir dir;
  enclave::pki::PkiInitOptions o;
  o.dir = dir.path();
  o.tls.now = SystemClock::Get().NowUnix();
  o.sgx.now = kPkiTime;
  auto made = enclave::pki::PkiInit(o);
  ASSERT_TRUE(made) << made.error().ToString();
  enclave::PlatformConfig pc;
  pc.kind = "sim";
  pc.platform_dir = dir.path() + "/sgx/platform-1";
  auto platform = enclave::OpenPlatform(pc);
  ASSERT_TRUE(platform.has_value()) << platform.error().ToString();
  auto genuine = (*platform)->Quote(std::array<std::uint8_t, 64>{});
  ASSERT_TRUE(genuine.has_value()) << genuine.error().ToString();

  // The server's pieces as run.cc assembles them for an offline collateral directory.
  auto source = std::make_unique<CountingSource>(dir.path() + "/collateral");
  CountingSource& counted = *source;
  PlatformCollateralOptions options;  // the default bound: 256 platforms
  PlatformCollateral collateral(options, nullptr, std::move(source),
                                std::make_shared<std::string>(), "offline");
  auto attestor = Attestor::Create({dir.path() + "/sgx/root.pem", true}, collateral);
  ASSERT_TRUE(attestor.has_value()) << attestor.error().ToString();
  const std::int64_t now = kPkiTime;

  // The genuine platform verifies; its collateral is fetched once.
  auto first = (*attestor)->Check(*genuine, now);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_TRUE(first->verified) << Failures(*first);
  EXPECT_EQ(counted.fetches.load(), 1);
  ASSERT_EQ(collateral.Snapshot().size(), 1u);

  // The flood: every quote claims another FMSPC.
  Forger forger(*genuine);
  std::set<std::string> codes;
  int refused = 0;
  for (int i = 0; i < kForged; ++i) {
    const std::array<std::uint8_t, 6> fmspc = {
        0xAB, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 0x00, 0x00, 0x01};
    auto quote = forger.Quote(fmspc);
    ASSERT_FALSE(quote.empty());
    auto r = (*attestor)->Check(quote, now);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    if (!r->verified) ++refused;
    ASSERT_FALSE(r->failures.empty());
    codes.insert(r->failures.front().code);
    if (i == 0) {
      EXPECT_NE(Failures(*r).find("does not verify with the key of"), std::string::npos)
          << Failures(*r);
    }
  }
  EXPECT_EQ(refused, kForged);
  EXPECT_EQ(codes, (std::set<std::string>{"pck_chain.untrusted"}));
  // Nothing was fetched for them and the collateral map holds the genuine platform only.
  EXPECT_EQ(counted.fetches.load(), 1);
  auto entries = collateral.Snapshot();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]->key.fmspc, "0FF1CE000000");

  // The genuine platform still verifies, from the entry it already has.
  auto after = (*attestor)->Check(*genuine, now + 1);
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
  EXPECT_TRUE(after->verified) << Failures(*after);
  EXPECT_EQ(after->fmspc, "0FF1CE000000");
  EXPECT_EQ(counted.fetches.load(), 1);
}

}  // namespace
}  // namespace kmra::server
