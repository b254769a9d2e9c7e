#include "enclave/gramine_platform.h"

#include <gtest/gtest.h>

#include <cstring>

#include "enclave/factory.h"
#include "gramine_fixture.h"
#include "sim_pki_fixture.h"

namespace kmra::enclave {
namespace {

using testing::GramineFixture;
using testing::TempDir;

class GraminePlatformTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir();
    testing::MakePki(pki_->path(), {pki::SimPlatformSpec{}});
  }
  static void TearDownTestSuite() { delete pki_; }

  std::unique_ptr<SimPlatform> Sim(bool debug = false) {
    SimOptions o;
    o.platform_dir = (pki_->path() / "sgx" / "platform-1").string();
    o.mrenclave.fill(0x5a);
    o.isv_prod_id = 11;
    o.isv_svn = 2;
    o.debug = debug;
    auto p = SimPlatform::Open(o);
    EXPECT_TRUE(p) << p.error().ToString();
    return p ? std::move(*p) : nullptr;
  }

  static TempDir* pki_;
  TempDir att_;
};
TempDir* GraminePlatformTest::pki_ = nullptr;

TEST_F(GraminePlatformTest, QuotesCarryTheWrittenReportDataAndTheEnclaveIdentity) {
  GramineFixture gramine(att_.path(), Sim(/*debug=*/true));
  auto p = GraminePlatform::Open(att_.path().string());
  ASSERT_TRUE(p) << p.error().ToString();
  auto id = (*p)->Identity();
  EXPECT_EQ(id.kind, "gramine");
  EXPECT_EQ(id.mrenclave[0], 0x5a);
  EXPECT_EQ(id.isv_prod_id, 11);
  EXPECT_EQ(id.isv_svn, 2);
  EXPECT_TRUE(id.debug);

  std::array<std::uint8_t, 64> rd{};
  for (std::size_t i = 0; i < rd.size(); ++i) rd[i] = static_cast<std::uint8_t>(200 - i);
  auto q = (*p)->Quote(rd);
  ASSERT_TRUE(q) << q.error().ToString();
  EXPECT_EQ(0, std::memcmp(q->data() + 48 + 320, rd.data(), 64));
  EXPECT_EQ(gramine.quotes_served(), 2);  // one at Open for the identity, one here
}

TEST_F(GraminePlatformTest, SealingKeyComesFromSgxMrenclaveKey) {
  GramineFixture gramine(att_.path(), Sim());
  auto p = GraminePlatform::Open(att_.path().string());
  ASSERT_TRUE(p) << p.error().ToString();
  auto k1 = (*p)->SealingKey();
  auto k2 = (*p)->SealingKey();
  ASSERT_TRUE(k1 && k2);
  EXPECT_EQ(k1->size(), 32u);
  EXPECT_TRUE(k1->Equals(*k2));
  std::vector<std::uint8_t> other(16, 0x01);
  ASSERT_TRUE(WriteFileAtomic(att_.path() / "keys" / "_sgx_mrenclave", other, 0600));
  auto k3 = (*p)->SealingKey();
  ASSERT_TRUE(k3);
  EXPECT_FALSE(k1->Equals(*k3));
  ASSERT_TRUE(WriteFileAtomic(att_.path() / "keys" / "_sgx_mrenclave", std::string_view("short"),
                              0600));
  auto bad = (*p)->SealingKey();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("16 bytes"), std::string::npos);
}

TEST_F(GraminePlatformTest, WrongAttestationTypeIsRefused) {
  GramineFixture gramine(att_.path(), Sim(), "epid");
  auto p = GraminePlatform::Open(att_.path().string());
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("epid"), std::string::npos);
}

TEST_F(GraminePlatformTest, OutsideGramineTheErrorSaysSo) {
  auto p = GraminePlatform::Open((att_.path() / "missing").string());
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Code::kUnavailable);
  EXPECT_NE(p.error().message().find("Gramine"), std::string::npos);

  // A directory without the pseudo-files (no remote attestation configured).
  auto p2 = GraminePlatform::Open(att_.path().string());
  ASSERT_FALSE(p2);
  EXPECT_NE(p2.error().message().find("user_report_data"), std::string::npos);
}

TEST_F(GraminePlatformTest, FactoryOpensGramineFromConfig) {
  GramineFixture gramine(att_.path(), Sim());
  PlatformConfig c;
  c.kind = "gramine";
  c.attestation_dir = att_.path().string();
  auto p = OpenPlatform(c);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ((*p)->Identity().kind, "gramine");
}

}  // namespace
}  // namespace kmra::enclave
