#include "enclave/sim_platform.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "base/file.h"
#include "crypto/hash.h"
#include "enclave/factory.h"
#include "enclave/internal/le.h"
#include "enclave/internal/p256.h"
#include "enclave/pki/sim_collateral.h"
#include "sim_pki_fixture.h"

namespace kmra::enclave {
namespace {

using internal::GetLe;
using testing::TempDir;

class SimPlatformTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    testing::MakePki(dir_->path(), {pki::SimPlatformSpec{}, pki::SimPlatformSpec{}});
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string PlatformDir(int n) {
    return (dir_->path() / "sgx" / ("platform-" + std::to_string(n))).string();
  }
  static SimOptions Options(int n = 1) {
    SimOptions o;
    o.platform_dir = PlatformDir(n);
    o.mrenclave.fill(0x42);
    o.isv_prod_id = 3;
    o.isv_svn = 5;
    return o;
  }

  static TempDir* dir_;
};
TempDir* SimPlatformTest::dir_ = nullptr;

std::array<std::uint8_t, 64> ReportData(std::uint8_t seed) {
  std::array<std::uint8_t, 64> rd{};
  for (std::size_t i = 0; i < rd.size(); ++i) rd[i] = static_cast<std::uint8_t>(seed + i);
  return rd;
}

ossl::Ptr<EVP_PKEY> FirstCertKey(std::string_view pem) {
  auto bio = ossl::Wrap(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  auto cert = ossl::Wrap(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return nullptr;
  return ossl::Wrap(X509_get_pubkey(cert.get()));
}

TEST_F(SimPlatformTest, QuoteHasTheDcapV3LayoutWithValidSignatures) {
  auto p = SimPlatform::Open(Options());
  ASSERT_TRUE(p) << p.error().ToString();
  auto rd = ReportData(7);
  auto q = (*p)->Quote(rd);
  ASSERT_TRUE(q) << q.error().ToString();
  const auto& quote = *q;
  ASSERT_GT(quote.size(), 1052u);

  // Header (DCAP.md section 1).
  EXPECT_EQ(GetLe<std::uint16_t>(quote, 0), 3);
  EXPECT_EQ(GetLe<std::uint16_t>(quote, 2), 2);
  EXPECT_EQ(GetLe<std::uint32_t>(quote, 4), 0u);
  EXPECT_EQ(GetLe<std::uint16_t>(quote, 8), pki::kSimQeIsvSvn);
  EXPECT_EQ(0, std::memcmp(quote.data() + 12, kIntelQeVendorId.data(), 16));
  // ISV report (section 2): our identity and report data.
  EXPECT_EQ(quote[48 + 64], 0x42);
  EXPECT_EQ(GetLe<std::uint16_t>(quote, 48 + 256), 3);
  EXPECT_EQ(GetLe<std::uint16_t>(quote, 48 + 258), 5);
  EXPECT_EQ(GetLe<std::uint64_t>(quote, 48 + 48), kAttrInit | kAttrMode64);
  EXPECT_EQ(0, std::memcmp(quote.data() + 48 + 320, rd.data(), 64));
  // Signature data (section 3) with 32 bytes of auth data and type 5 at 1046.
  EXPECT_EQ(GetLe<std::uint32_t>(quote, 432), quote.size() - 436);
  EXPECT_EQ(GetLe<std::uint16_t>(quote, 1012), 32);
  EXPECT_EQ(quote[1014], 0);
  EXPECT_EQ(quote[1045], 31);
  EXPECT_EQ(GetLe<std::uint16_t>(quote, 1046), 5);
  EXPECT_EQ(GetLe<std::uint32_t>(quote, 1048), quote.size() - 1052);
  EXPECT_EQ(quote.back(), 0) << "the PEM chain ends with one NUL like real quotes";
  const std::string chain(quote.begin() + 1052, quote.end() - 1);
  std::size_t certs = 0;
  for (auto pos = chain.find("BEGIN CERTIFICATE"); pos != std::string::npos;
       pos = chain.find("BEGIN CERTIFICATE", pos + 1)) {
    ++certs;
  }
  EXPECT_EQ(certs, 3u);

  // QE report binds the attestation key: SHA-256(key || auth) == report_data[0..32].
  std::vector<std::uint8_t> bound(quote.begin() + 500, quote.begin() + 564);
  bound.insert(bound.end(), quote.begin() + 1014, quote.begin() + 1046);
  auto digest = crypto::Sha256(bound);
  EXPECT_EQ(0, std::memcmp(quote.data() + 564 + 320, digest.data(), 32));
  for (int i = 352; i < 384; ++i) EXPECT_EQ(quote[564 + i], 0);

  // QE report signed by the PCK key (leaf of the chain).
  auto pck = FirstCertKey(chain);
  ASSERT_TRUE(pck);
  EXPECT_TRUE(internal::VerifyP256Raw(pck.get(), std::span(quote.data() + 564, 384),
                                      std::span<const std::uint8_t, 64>(quote.data() + 948, 64)));
  // ISV signature by the attestation key over header || body.
  std::uint8_t point[65] = {0x04};
  std::memcpy(point + 1, quote.data() + 500, 64);
  auto bld = ossl::Wrap(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), "group", "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), "pub", point, sizeof(point));
  auto params = ossl::Wrap(OSSL_PARAM_BLD_to_param(bld.get()));
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()), 1);
  auto attestation = ossl::Wrap(raw);
  std::span<const std::uint8_t, 64> isv_sig(quote.data() + 436, 64);
  EXPECT_TRUE(internal::VerifyP256Raw(attestation.get(), std::span(quote.data(), 432), isv_sig));
  // A flipped body byte breaks it (what a verifier reports as an invalid quote signature).
  auto tampered = quote;
  tampered[112] ^= 1;
  EXPECT_FALSE(internal::VerifyP256Raw(attestation.get(), std::span(tampered.data(), 432), isv_sig));
}

TEST_F(SimPlatformTest, DebugFlagAndIdentity) {
  auto o = Options();
  o.debug = true;
  auto p = SimPlatform::Open(o);
  ASSERT_TRUE(p) << p.error().ToString();
  auto q = (*p)->Quote(ReportData(1));
  ASSERT_TRUE(q);
  EXPECT_EQ(GetLe<std::uint64_t>(*q, 48 + 48) & kAttrDebug, kAttrDebug);
  auto id = (*p)->Identity();
  EXPECT_EQ(id.kind, "sim");
  EXPECT_TRUE(id.debug);
  EXPECT_EQ(id.mrenclave, o.mrenclave);
  EXPECT_EQ(0, std::memcmp(q->data() + 48 + 128, id.mrsigner.data(), 32));
}

TEST_F(SimPlatformTest, MrSignerIsTheSameOnEveryPlatformOfOneVendor) {
  auto a = SimPlatform::Open(Options(1));
  auto b = SimPlatform::Open(Options(2));
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)->Identity().mrsigner, (*b)->Identity().mrsigner);
  EXPECT_NE((*a)->info().ppid, (*b)->info().ppid);
}

TEST_F(SimPlatformTest, SealingKeyIsStablePerEnclaveAndPlatform) {
  auto a1 = SimPlatform::Open(Options(1));
  auto a2 = SimPlatform::Open(Options(1));
  auto other_enclave_opts = Options(1);
  other_enclave_opts.mrenclave.fill(0x43);
  auto other_enclave = SimPlatform::Open(other_enclave_opts);
  auto other_platform = SimPlatform::Open(Options(2));
  ASSERT_TRUE(a1 && a2 && other_enclave && other_platform);
  auto k1 = (*a1)->SealingKey();
  auto k2 = (*a2)->SealingKey();
  auto k3 = (*other_enclave)->SealingKey();
  auto k4 = (*other_platform)->SealingKey();
  ASSERT_TRUE(k1 && k2 && k3 && k4);
  EXPECT_EQ(k1->size(), 32u);
  EXPECT_TRUE(k1->Equals(*k2));
  EXPECT_FALSE(k1->Equals(*k3));
  EXPECT_FALSE(k1->Equals(*k4));
}

TEST_F(SimPlatformTest, TwoQuotesDifferOnlyInReportDataAndSignature) {
  auto p = SimPlatform::Open(Options());
  ASSERT_TRUE(p);
  auto q1 = (*p)->Quote(ReportData(1));
  auto q2 = (*p)->Quote(ReportData(2));
  ASSERT_TRUE(q1 && q2);
  ASSERT_EQ(q1->size(), q2->size());
  EXPECT_TRUE(std::equal(q1->begin(), q1->begin() + 368, q2->begin()));
  EXPECT_TRUE(std::equal(q1->begin() + 500, q1->end(), q2->begin() + 500));
}

TEST(SimPlatformErrors, MissingDirectoryIsNamed) {
  SimOptions o;
  o.platform_dir = "/nonexistent/platform-1";
  auto p = SimPlatform::Open(o);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Code::kNotFound);
  EXPECT_NE(p.error().message().find("/nonexistent/platform-1"), std::string::npos);
  EXPECT_NE(p.error().message().find("kmra pki init"), std::string::npos);
}

TEST(SimPlatformErrors, CorruptFilesGiveClearErrors) {
  TempDir dir;
  testing::MakePki(dir.path(), {pki::SimPlatformSpec{}});
  const auto pdir = dir.path() / "sgx" / "platform-1";
  SimOptions o;
  o.platform_dir = pdir.string();

  ASSERT_TRUE(WriteFileAtomic(pdir / kSimPlatformConfigFile, std::string_view("{\"format\":"), 0644));
  auto p = SimPlatform::Open(o);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("platform.json"), std::string::npos) << p.error().message();

  ASSERT_TRUE(WriteFileAtomic(pdir / kSimPlatformConfigFile,
                              std::string_view("{\"format\":\"openkmra-sim-platform-1\","
                                               "\"fmspc\":\"0FF1CE\"}"),
                              0644));
  p = SimPlatform::Open(o);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("fmspc"), std::string::npos) << p.error().message();

  TempDir dir2;
  testing::MakePki(dir2.path(), {pki::SimPlatformSpec{}});
  const auto pdir2 = dir2.path() / "sgx" / "platform-1";
  o.platform_dir = pdir2.string();
  ASSERT_TRUE(WriteFileAtomic(pdir2 / kSimAttestationKeyFile,
                              std::string_view("-----BEGIN PRIVATE KEY-----\nAAAA\n"), 0600));
  p = SimPlatform::Open(o);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("attestation_key.pem"), std::string::npos)
      << p.error().message();

  std::filesystem::remove(pdir2 / kSimSealingSecretFile);
  std::filesystem::remove(pdir2 / kSimAttestationKeyFile);
  p = SimPlatform::Open(o);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Code::kNotFound);
}

TEST_F(SimPlatformTest, FactoryMeasuresTheModuleFile) {
  TempDir tmp;
  const auto module = tmp.path() / "libmodule.so";
  ASSERT_TRUE(WriteFileAtomic(module, std::string_view("module bytes v1"), 0644));
  PlatformConfig c;
  c.kind = "sim";
  c.platform_dir = PlatformDir(1);
  c.mrenclave_of = module.string();
  c.isv_prod_id = 9;
  auto p = OpenPlatform(c);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ((*p)->Identity().mrenclave, crypto::Sha256(std::string_view("module bytes v1")));
  EXPECT_EQ((*p)->Identity().isv_prod_id, 9);

  // A changed module changes the measurement.
  ASSERT_TRUE(WriteFileAtomic(module, std::string_view("module bytes v2"), 0644));
  auto p2 = OpenPlatform(c);
  ASSERT_TRUE(p2);
  EXPECT_NE((*p2)->Identity().mrenclave, (*p)->Identity().mrenclave);
}

TEST(Factory, RejectsUnknownKindsAndMissingFiles) {
  PlatformConfig c;
  c.kind = "tdx";
  auto p = OpenPlatform(c);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Code::kInvalidArgument);
  EXPECT_NE(p.error().message().find("\"tdx\""), std::string::npos);

  c.kind = "sim";
  c.platform_dir = "/tmp";
  c.mrenclave_of = "/nonexistent/libkmra-pkcs11.so";
  p = OpenPlatform(c);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("/nonexistent/libkmra-pkcs11.so"), std::string::npos);
}

TEST(Factory, WorksInAForkedChild) {
  TempDir dir;
  testing::MakePki(dir.path(), {pki::SimPlatformSpec{}});
  PlatformConfig c;
  c.kind = "sim";
  c.platform_dir = (dir.path() / "sgx" / "platform-1").string();
  auto parent = OpenPlatform(c);
  ASSERT_TRUE(parent);
  pid_t pid = fork();
  if (pid == 0) {
    auto child = OpenPlatform(c);
    std::array<std::uint8_t, 64> rd{};
    bool ok = child && (*child)->Quote(rd).has_value() && (*parent)->Quote(rd).has_value();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace kmra::enclave
