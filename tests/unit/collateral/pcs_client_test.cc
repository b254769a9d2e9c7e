#include "collateral/pcs_client.h"

#include <gtest/gtest.h>

#include "base/file.h"
#include "dcap/verifier.h"
#include "pccs_fixture.h"

namespace kmra::collateral {
namespace {

using testing::DeadUrl;
using testing::PccsServer;

const std::string kCase = std::string(KMRA_TEST_DATA) + "/dcap/dcap-qvl_sgx";
constexpr char kFmspc[] = "00A067110000";
constexpr int64_t kCaseTime = 1752919277;

std::string File(const std::string& name) { return ReadFileText(kCase + "/" + name).value(); }
std::vector<std::uint8_t> Bytes(const std::string& name) {
  return ReadFileBytes(kCase + "/" + name).value();
}

std::unique_ptr<PcsClient> Client(std::vector<std::string> urls, int version = 4) {
  PcsOptions o;
  o.base_urls = std::move(urls);
  o.api_version = version;
  o.timeout_ms = 5000;
  o.root_ca_crl_url.clear();  // never reach out to Intel from a test
  auto c = PcsClient::Create(o);
  EXPECT_TRUE(c) << c.error().ToString();
  return c ? std::move(*c) : nullptr;
}

TEST(PcsClient, FetchesRealCollateralThroughPccsEncodingsAndItVerifies) {
  PccsServer pccs(kCase, "processor");
  ASSERT_NE(pccs.port(), 0) << "python3 test server did not start";
  auto client = Client({pccs.url()});
  auto c = client->Get("00a067110000", "sgx", "processor");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->tcb_info_json, File("tcbInfo.json"));
  EXPECT_EQ(c->qe_identity_json, File("qeIdentity.json"));
  EXPECT_EQ(c->tcb_signing_chain_pem, File("tcbSignChain.pem"));  // URL-decoded header
  EXPECT_EQ(c->pck_crl_issuer_chain_pem, File("pckCrlIssuerChain.pem"));
  EXPECT_EQ(c->pck_crl_der, Bytes("pckCrl.der"));
  EXPECT_EQ(c->root_ca_crl_der, Bytes("rootCaCrl.der"));  // from PCCS's hex text

  // The real quote verifies against what came over the wire.
  auto verifier = dcap::Verifier::Create({});
  ASSERT_TRUE(verifier);
  auto report = (*verifier)->Verify(Bytes("quote.bin"), *c, kCaseTime);
  EXPECT_TRUE(report.verified);
  EXPECT_EQ(report.tcb_status, "ConfigurationAndSWHardeningNeeded");
}

TEST(PcsClient, SpeaksApiV3Paths) {
  PccsServer pccs(kCase, "processor");
  ASSERT_NE(pccs.port(), 0);
  auto c = Client({pccs.url()}, 3)->Get(kFmspc, "SGX", "processor");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->tcb_signing_chain_pem, File("tcbSignChain.pem"));  // SGX-TCB-Info-Issuer-Chain
  auto tdx = Client({pccs.url()}, 3)->Get(kFmspc, "TDX", "platform");
  ASSERT_FALSE(tdx);
  EXPECT_NE(tdx.error().message().find("v4"), std::string::npos);
}

TEST(PcsClient, FallsBackToTheNextUrlWhenOneIsDown) {
  PccsServer pccs(kCase, "processor");
  ASSERT_NE(pccs.port(), 0);
  const std::string dead = DeadUrl();
  auto c = Client({dead, pccs.url()})->Get(kFmspc, "SGX", "processor");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->pck_crl_der, Bytes("pckCrl.der"));
}

TEST(PcsClient, EveryUrlDownIsUnavailableNamingEachUrl) {
  const std::string a = DeadUrl();
  const std::string b = DeadUrl() + "/pccs";
  auto c = Client({a, b})->Get(kFmspc, "SGX", "processor");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Code::kUnavailable);
  EXPECT_NE(c.error().message().find(a), std::string::npos) << c.error().message();
  EXPECT_NE(c.error().message().find(b), std::string::npos) << c.error().message();
}

TEST(PcsClient, UnknownFmspcIsNotFound) {
  PccsServer pccs(kCase, "processor");
  ASSERT_NE(pccs.port(), 0);
  auto c = Client({pccs.url()})->Get("00906ED50000", "SGX", "processor");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Code::kNotFound);
  EXPECT_NE(c.error().message().find("00906ED50000"), std::string::npos);
}

TEST(PcsClient, TruncatedJsonIsDataLossNotAcrash) {
  PccsServer pccs(kCase, "processor", {"--truncate-tcb"});
  ASSERT_NE(pccs.port(), 0);
  auto c = Client({pccs.url()})->Get(kFmspc, "SGX", "processor");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Code::kDataLoss);
  EXPECT_NE(c.error().message().find("truncated"), std::string::npos) << c.error().message();
}

TEST(PcsClient, BadArgumentsAreRejected) {
  PcsOptions o;
  EXPECT_FALSE(PcsClient::Create(o));
  o.base_urls = {"ftp://pccs"};
  EXPECT_FALSE(PcsClient::Create(o));
  o.base_urls = {"https://pccs.example:8081/"};
  o.api_version = 2;
  EXPECT_FALSE(PcsClient::Create(o));
  o.api_version = 4;
  auto c = PcsClient::Create(o);
  ASSERT_TRUE(c);
  auto bad = (*c)->Get("not-hex", "SGX", "processor");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("FMSPC"), std::string::npos);
  EXPECT_FALSE((*c)->Get(kFmspc, "SEV", "processor"));
  EXPECT_FALSE((*c)->Get(kFmspc, "SGX", "intermediate"));
}

TEST(PercentDecode, DecodesAndRejectsBadEscapes) {
  EXPECT_EQ(internal::PercentDecode("a%20b%0A%2d").value(), "a b\n-");
  EXPECT_FALSE(internal::PercentDecode("%2"));
  EXPECT_FALSE(internal::PercentDecode("%zz"));
}

}  // namespace
}  // namespace kmra::collateral
