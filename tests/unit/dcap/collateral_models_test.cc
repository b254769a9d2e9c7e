// PCK extension, TCB info / QE identity parsing and TCB evaluation on the real collateral.
#include <gtest/gtest.h>

#include <algorithm>

#include "crypto/x509.h"
#include "dcap/pck_extension.h"
#include "dcap/quote.h"
#include "dcap/tcb_eval.h"
#include "dcap/tcb_info.h"
#include "test_data.h"

namespace kmra::dcap {
namespace {

using testing::CaseDir;
using testing::ReadBytes;
using testing::ReadText;

PckExtension LeafExtension(const std::string& name) {
  auto q = ParseQuote(ReadBytes(CaseDir(name) + "/quote.bin"));
  EXPECT_TRUE(q);
  auto certs = crypto::ParsePemChain(q->cert_data.pck_chain_pem, "chain");
  EXPECT_TRUE(certs);
  auto ext = PckExtensionOf((*certs)[0]);
  EXPECT_TRUE(ext) << ext.error().message();
  return *ext;
}

TEST(PckExtensionTest, ProcessorCaLeaf) {
  PckExtension e = LeafExtension("dcap-qvl_sgx");
  EXPECT_EQ(e.fmspc, (std::array<uint8_t, 6>{0x00, 0xA0, 0x67, 0x11, 0x00, 0x00}));
  EXPECT_EQ(e.pce_id, (std::array<uint8_t, 2>{0, 0}));
  EXPECT_EQ(e.pce_svn, 13);
  EXPECT_EQ(e.tcb_components[0], 11);
  EXPECT_EQ(e.tcb_components[4], 255);
  EXPECT_EQ(e.sgx_type, 0u);
  EXPECT_FALSE(e.platform_instance_id);
  EXPECT_FALSE(e.configuration);
}

TEST(PckExtensionTest, PlatformCaLeafHasInstanceIdAndConfiguration) {
  PckExtension e = LeafExtension("dcap-qvl_tdx");
  EXPECT_TRUE(e.platform_instance_id);
  ASSERT_TRUE(e.configuration);
  EXPECT_TRUE(e.configuration->smt_enabled.has_value());
}

TEST(PckExtensionTest, MalformedDerIsAClearError) {
  const uint8_t not_seq[] = {0x04, 0x01, 0x00};
  auto e = ParsePckExtension(not_seq);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("SEQUENCE"), std::string::npos);
  const uint8_t empty_seq[] = {0x30, 0x00};
  e = ParsePckExtension(empty_seq);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("PPID is missing"), std::string::npos);
  const uint8_t long_len[] = {0x30, 0x84, 0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(ParsePckExtension(long_len));
}

TEST(TcbInfoTest, ParsesV3SgxAndV2) {
  auto v3 = ParseTcbInfo(ReadText(CaseDir("dcap-qvl_sgx") + "/tcbInfo.json"));
  ASSERT_TRUE(v3) << v3.error().message();
  EXPECT_EQ(v3->value.version, 3);
  EXPECT_EQ(v3->value.id, "SGX");
  EXPECT_EQ(v3->value.tcb_evaluation_data_number, 17);
  EXPECT_EQ(v3->body.front(), '{');
  EXPECT_EQ(v3->body.back(), '}');
  EXPECT_NE(ReadText(CaseDir("dcap-qvl_sgx") + "/tcbInfo.json").find(v3->body), std::string::npos);
  auto v2 = ParseTcbInfo(ReadText(CaseDir("intel_qvl_sample_sgx") + "/tcbInfo.json"));
  ASSERT_TRUE(v2) << v2.error().message();
  EXPECT_EQ(v2->value.version, 2);
  EXPECT_EQ(v2->value.levels[0].sgx_components[1], 3);
}

TEST(TcbInfoTest, ParsesTdxModuleIdentities) {
  auto t = ParseTcbInfo(ReadText(CaseDir("dcap-qvl_tdx") + "/tcbInfo.json"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->value.id, "TDX");
  ASSERT_TRUE(t->value.tdx_module);
  ASSERT_EQ(t->value.tdx_module_identities.size(), 2u);
  EXPECT_EQ(t->value.tdx_module_identities[1].id, "TDX_01");
  EXPECT_EQ(t->value.tdx_module_identities[1].levels[0].isv_svn, 4);
}

TEST(TcbInfoTest, ErrorsNameTheField) {
  std::string json = ReadText(CaseDir("dcap-qvl_sgx") + "/tcbInfo.json");
  auto bad = json;
  bad.replace(bad.find("\"fmspc\":\"00A067110000\""), 22, "\"fmspc\":\"00A0671100\"");
  auto r = ParseTcbInfo(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("\"fmspc\""), std::string::npos) << r.error().message();
  bad = json;
  bad.replace(bad.find("\"SWHardeningNeeded\""), 19, "\"Fine\"");
  r = ParseTcbInfo(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("unknown value \"Fine\""), std::string::npos);
  EXPECT_FALSE(ParseTcbInfo(json + "x"));
  EXPECT_FALSE(ParseTcbInfo("{\"tcbInfo\":{}}"));
  EXPECT_FALSE(ParseTcbInfo("[]"));
}

TEST(EnclaveIdentityTest, ParsesQeAndTdQe) {
  auto qe = ParseEnclaveIdentity(ReadText(CaseDir("dcap-qvl_sgx") + "/qeIdentity.json"));
  ASSERT_TRUE(qe) << qe.error().message();
  EXPECT_EQ(qe->value.id, "QE");
  EXPECT_EQ(qe->value.isv_prod_id, 1);
  EXPECT_EQ(qe->value.levels[0].isv_svn, 8);
  EXPECT_EQ(qe->value.attributes_mask[0], 0xFB);
  auto td = ParseEnclaveIdentity(ReadText(CaseDir("dcap-qvl_tdx") + "/qeIdentity.json"));
  ASSERT_TRUE(td);
  EXPECT_EQ(td->value.id, "TD_QE");
}

TEST(TcbEvalTest, LevelSelectionFollowsPckSvns) {
  auto info = ParseTcbInfo(ReadText(CaseDir("dcap-qvl_sgx") + "/tcbInfo.json"));
  ASSERT_TRUE(info);
  PckExtension pck = LeafExtension("dcap-qvl_sgx");
  auto level = SelectTcbLevel(info->value, pck, nullptr);
  ASSERT_TRUE(level);
  EXPECT_EQ(level->status, TcbStatus::kConfigurationAndSWHardeningNeeded);
  pck.tcb_components[6] = 12;  // the microcode component of the newest level
  level = SelectTcbLevel(info->value, pck, nullptr);
  ASSERT_TRUE(level);
  EXPECT_EQ(level->status, TcbStatus::kSWHardeningNeeded);
  // The same levels in another order than Intel's: chosen in QVL's order all the same.
  TcbInfo shuffled = info->value;
  std::reverse(shuffled.levels.begin(), shuffled.levels.end());
  std::rotate(shuffled.levels.begin(), shuffled.levels.begin() + 1, shuffled.levels.end());
  const TcbLevel* again = SelectTcbLevel(shuffled, pck, nullptr);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, TcbStatus::kSWHardeningNeeded);
  EXPECT_EQ(again->tcb_date, level->tcb_date);
  EXPECT_EQ(again->sgx_components, level->sgx_components);
  pck.tcb_components.fill(0);
  EXPECT_FALSE(SelectTcbLevel(info->value, pck, nullptr));
  EXPECT_FALSE(SelectTcbLevel(shuffled, pck, nullptr));
}

TEST(TcbEvalTest, ConvergenceMatchesQvl) {
  using S = TcbStatus;
  EXPECT_EQ(Converge(S::kUpToDate, S::kUpToDate), S::kUpToDate);
  EXPECT_EQ(Converge(S::kUpToDate, S::kOutOfDate), S::kOutOfDate);
  EXPECT_EQ(Converge(S::kSWHardeningNeeded, S::kOutOfDate), S::kOutOfDate);
  EXPECT_EQ(Converge(S::kConfigurationNeeded, S::kOutOfDate), S::kOutOfDateConfigurationNeeded);
  EXPECT_EQ(Converge(S::kConfigurationAndSWHardeningNeeded, S::kOutOfDate),
            S::kOutOfDateConfigurationNeeded);
  EXPECT_EQ(Converge(S::kUpToDate, S::kRevoked), S::kRevoked);
  EXPECT_EQ(Converge(S::kOutOfDate, S::kNotSupported), S::kNotSupported);
  EXPECT_EQ(Converge(S::kNotSupported, S::kUpToDate), S::kNotSupported);
  EXPECT_EQ(TcbStatusName(S::kNotSupported), "TCBLevelNotSupported");
  EXPECT_EQ(ParseTcbStatus("OutOfDateConfigurationNeeded"), S::kOutOfDateConfigurationNeeded);
}

}  // namespace
}  // namespace kmra::dcap

namespace kmra::dcap {
namespace {

TEST(PemChainTest, BadPemIsAClearError) {
  auto r = crypto::ParsePemChain("-----BEGIN CERTIFICATE-----\nAAAA", "the chain");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no END line"), std::string::npos);
  r = crypto::ParsePemChain("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                            "the chain");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("base64"), std::string::npos);
  r = crypto::ParsePemChain("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                            "the chain");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a DER certificate"), std::string::npos);
  EXPECT_FALSE(crypto::ParsePemChain("", "the chain"));
}

TEST(PemChainTest, KnownRootIsSharedNotDecodedAgain) {
  auto root =
      crypto::ParsePemChain(testing::ReadText(testing::CaseDir("IntelSGXRootCA.pem")), "root");
  ASSERT_TRUE(root);
  auto chain = crypto::ParsePemChain(
      testing::ReadText(testing::CaseDir("dcap-qvl_sgx") + "/tcbSignChain.pem"), "chain",
      &(*root)[0]);
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[1].key->get(), (*root)[0].key->get());  // one key object, not decoded again
  EXPECT_EQ((*chain)[0].subject_cn, "Intel SGX TCB Signing");
}

}  // namespace
}  // namespace kmra::dcap
