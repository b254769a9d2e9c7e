#include "dcap/collateral.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_data.h"

namespace kmra::dcap {
namespace {

using testing::CaseDir;
using testing::ReadBytes;
using testing::ReadText;

TEST(CollateralTest, LoadsEveryFileOfACase) {
  auto c = LoadCollateralDir(CaseDir("dcap-qvl_sgx"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->tcb_info_json, ReadText(CaseDir("dcap-qvl_sgx") + "/tcbInfo.json"));
  EXPECT_EQ(c->qe_identity_json, ReadText(CaseDir("dcap-qvl_sgx") + "/qeIdentity.json"));
  EXPECT_EQ(c->root_ca_crl_der, ReadBytes(CaseDir("dcap-qvl_sgx") + "/rootCaCrl.der"));
  EXPECT_EQ(c->pck_crl_der, ReadBytes(CaseDir("dcap-qvl_sgx") + "/pckCrl.der"));
  EXPECT_FALSE(c->tcb_signing_chain_pem.empty());
  EXPECT_FALSE(c->trusted_root_pem.empty());
}

TEST(CollateralTest, MissingCrlsStayEmpty) {
  auto c = LoadCollateralDir(CaseDir("oasis_tdx_out_of_date"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->root_ca_crl_der.empty());
  EXPECT_TRUE(c->pck_crl_der.empty());
  EXPECT_FALSE(c->tcb_info_json.empty());
}

TEST(CollateralTest, PemAndHexCrlsBecomeDer) {
  auto der = ReadBytes(CaseDir("dcap-qvl_sgx") + "/rootCaCrl.der");
  auto pem = ReadBytes(CaseDir("dcap-qvl_sgx") + "/rootCaCrl.pem");
  auto from_pem = CrlToDer(pem);
  ASSERT_TRUE(from_pem) << from_pem.error().message();
  EXPECT_EQ(*from_pem, der);
  std::string hex;
  for (uint8_t b : der) {
    static const char* d = "0123456789abcdef";
    hex += d[b >> 4];
    hex += d[b & 15];
  }
  auto from_hex = CrlToDer(std::vector<uint8_t>(hex.begin(), hex.end()));
  ASSERT_TRUE(from_hex);
  EXPECT_EQ(*from_hex, der);
  std::string junk = "not a crl";
  auto bad = CrlToDer(std::vector<uint8_t>(junk.begin(), junk.end()));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("neither DER, PEM"), std::string::npos);
}

TEST(CollateralTest, MissingDirectoryIsNotFound) {
  auto c = LoadCollateralDir("/nonexistent/kmra-collateral");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Code::kNotFound);
  auto empty = std::filesystem::temp_directory_path() / "kmra-dcap-empty-collateral";
  std::filesystem::create_directories(empty);
  c = LoadCollateralDir(empty.string());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("holds none"), std::string::npos);
  std::filesystem::remove_all(empty);
}

}  // namespace
}  // namespace kmra::dcap
