#include "dcap/quote.h"

#include <gtest/gtest.h>

#include "dcap/internal/bytes.h"
#include "dcap/quote_format.h"
#include "test_data.h"

namespace kmra::dcap {
namespace {

using internal::Hex;
using testing::CaseDir;
using testing::ReadBytes;

TEST(QuoteTest, ParsesSgxV3WithPckChain) {
  auto bytes = ReadBytes(CaseDir("dcap-qvl_sgx") + "/quote.bin");
  auto q = ParseQuote(bytes);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->header.version, 3);
  EXPECT_EQ(q->header.qe_svn, 10);
  EXPECT_EQ(q->header.pce_svn, 15);
  EXPECT_EQ(Hex(q->header.qe_vendor_id), "939a7233f79c4ca9940a0db3957f0607");
  ASSERT_TRUE(q->sgx);
  EXPECT_EQ(Hex(q->sgx->mr_enclave),
            "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
  EXPECT_EQ(Hex(q->sgx->mr_signer),
            "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6");
  EXPECT_EQ(Hex(q->sgx->attributes), "0500000000000000e700000000000000");
  EXPECT_FALSE(q->sgx->debug());
  EXPECT_EQ(Hex(q->sgx->report_data).substr(0, 26), "48656c6c6f2c20776f726c6421");
  EXPECT_EQ(q->signed_bytes.size(), 432u);
  EXPECT_EQ(q->signature_data_len, 4164u);
  EXPECT_EQ(q->qe_report.isv_prod_id, 1);
  EXPECT_EQ(q->qe_report.isv_svn, 10);
  EXPECT_EQ(q->qe_auth_data.size(), 32u);
  EXPECT_EQ(q->cert_data.type, 5);
  EXPECT_EQ(q->cert_data.declared_size, 3548u);
  EXPECT_EQ(q->cert_data.pck_chain_pem.find("-----BEGIN CERTIFICATE-----"), 0u);
  EXPECT_EQ(q->cert_data.pck_chain_pem.back(), '\n');  // trailing NUL stripped
  EXPECT_EQ(q->size, 4600u);
  EXPECT_EQ(q->trailing_bytes, 0u);
}

TEST(QuoteTest, ParsesTdxV4AndReportsTrailingBytes) {
  auto bytes = ReadBytes(CaseDir("dcap-qvl_tdx") + "/quote.bin");
  auto q = ParseQuote(bytes);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->header.version, 4);
  EXPECT_TRUE(q->is_tdx());
  ASSERT_TRUE(q->td);
  EXPECT_EQ(Hex(q->td->tee_tcb_svn), "06010300000000000000000000000000");
  EXPECT_EQ(Hex(q->td->mr_td).substr(0, 16), "91eb2b44d141d4ec");
  EXPECT_EQ(Hex(q->td->rtmr[2]).substr(0, 8), "d833feef");
  EXPECT_EQ(q->signed_bytes.size(), 632u);
  EXPECT_EQ(q->cert_data.type, 6);
  EXPECT_EQ(q->cert_data.nested_type, 5);
  EXPECT_EQ(q->qe_report.isv_prod_id, 2);
  EXPECT_EQ(q->qe_report.isv_svn, 6);
  EXPECT_EQ(q->size, 4936u);
  EXPECT_EQ(q->trailing_bytes, 70u);
}

TEST(QuoteTest, ParsesCertDataType1) {
  auto bytes = ReadBytes(CaseDir("intel_qvl_sample_sgx") + "/quote.bin");
  auto q = ParseQuote(bytes);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->cert_data.type, 1);
  EXPECT_EQ(q->cert_data.data.size(), 34u);
  EXPECT_TRUE(q->cert_data.pck_chain_pem.empty());
  EXPECT_EQ(q->qe_report.misc_select, 2360443601u);
  EXPECT_TRUE(q->qe_auth_data.empty());
}

TEST(QuoteTest, EveryTruncationIsAClearErrorNotACrash) {
  for (const char* name : {"dcap-qvl_sgx", "dcap-qvl_tdx", "intel_qvl_sample_sgx"}) {
    auto bytes = ReadBytes(CaseDir(name) + "/quote.bin");
    auto full = ParseQuote(bytes);
    ASSERT_TRUE(full);
    for (size_t n = 0; n < full->size; ++n) {
      auto q = ParseQuote(std::span<const uint8_t>(bytes.data(), n));
      ASSERT_FALSE(q) << name << " truncated to " << n << " parsed";
      EXPECT_FALSE(q.error().message().empty());
    }
  }
}

TEST(QuoteTest, NamesTheFieldThatIsShort) {
  auto bytes = ReadBytes(CaseDir("dcap-qvl_sgx") + "/quote.bin");
  auto q = ParseQuote(std::span<const uint8_t>(bytes.data(), 20));
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message().find("needs 48"), std::string::npos) << q.error().message();
  q = ParseQuote(std::span<const uint8_t>(bytes.data(), 300));
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message().find("ISV enclave report body"), std::string::npos);
  // Signature data length larger than what follows.
  auto big = bytes;
  big[432] = 0xff;
  big[433] = 0xff;
  q = ParseQuote(big);
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message().find("signature data length"), std::string::npos);
}

TEST(QuoteTest, RejectsUnsupportedVersionKeyTypeAndTee) {
  auto bytes = ReadBytes(CaseDir("dcap-qvl_sgx") + "/quote.bin");
  auto v = bytes;
  v[0] = 2;
  auto q = ParseQuote(v);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), Code::kUnimplemented);
  EXPECT_NE(q.error().message().find("version 2"), std::string::npos);
  auto k = bytes;
  k[2] = 3;
  q = ParseQuote(k);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), Code::kUnimplemented);
  auto t = bytes;
  t[4] = 0x81;
  q = ParseQuote(t);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), Code::kInvalidArgument);
}

TEST(QuoteTest, CertificationDataSizeMustAddUp) {
  auto bytes = ReadBytes(CaseDir("dcap-qvl_sgx") + "/quote.bin");
  // Certification data size at 1048 (u32): claim one byte less than present.
  auto b = bytes;
  b[1048] = static_cast<uint8_t>(b[1048] - 1);
  auto q = ParseQuote(b);
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message().find("ends 1 bytes earlier"), std::string::npos)
      << q.error().message();
}

TEST(QuoteTest, V5TdReport15Parses) {
  // Build a v5 quote from the v4 TDX one: header(v=5) || body_type 3 || size 648 || TD report 1.0
  // || 64 bytes of TD 1.5 extension || signature data.
  auto v4 = ReadBytes(CaseDir("dcap-qvl_tdx") + "/quote.bin");
  std::vector<uint8_t> v5(v4.begin(), v4.begin() + 48);
  v5[0] = 5;
  v5.insert(v5.end(), {3, 0, 0x88, 0x02, 0, 0});
  v5.insert(v5.end(), v4.begin() + 48, v4.begin() + 632);
  v5.insert(v5.end(), 64, 0xab);
  v5.insert(v5.end(), v4.begin() + 632, v4.begin() + 4936);
  auto q = ParseQuote(v5);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->body_type, 3);
  ASSERT_TRUE(q->td);
  EXPECT_TRUE(q->td->v15);
  EXPECT_EQ(q->td->tee_tcb_svn2[0], 0xab);
  EXPECT_EQ(q->signed_bytes.size(), 54u + 648u);
  EXPECT_EQ(q->trailing_bytes, 0u);
  // A wrong body size is refused.
  v5[50] = 0x48;
  ASSERT_FALSE(ParseQuote(v5));
}

TEST(QuoteTest, JsonDumpCarriesTheFields) {
  auto bytes = ReadBytes(CaseDir("dcap-qvl_sgx") + "/quote.bin");
  auto q = ParseQuote(bytes);
  ASSERT_TRUE(q);
  auto j = QuoteToJson(*q);
  EXPECT_EQ(j["header"]["tee_type"], "SGX");
  EXPECT_EQ(j["enclave_report"]["isv_prod_id"], 0);
  EXPECT_EQ(j["signature_data"]["certification_data"]["type"], 5);
  std::string text = QuoteToText(*q);
  EXPECT_NE(text.find("mr_enclave: 33d8736d"), std::string::npos);
  EXPECT_NE(text.find("3 PEM certificates"), std::string::npos);
}

}  // namespace
}  // namespace kmra::dcap
