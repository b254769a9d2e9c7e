// Known answers for AES-GCM (NIST CAVP gcmEncryptExtIV / gcmDecrypt, trimmed) and HKDF (RFC 5869
// appendix A, test cases 1-3), run against crypto::AesGcm* and crypto::Hkdf: the functions the
// token's CKM_AES_GCM, its sealed store and the enclave platforms' sealing keys call.
#include <gtest/gtest.h>

#include <string>

#include "base/hex.h"
#include "crypto/aes_gcm.h"
#include "crypto/hkdf.h"
#include "kat_util.h"

namespace kmra::crypto {
namespace {

using testing::KatRecord;
using testing::LoadKatRecords;
using testing::Unhex;

size_t TagBytes(const KatRecord& r) { return std::stoul(r.section.at("Taglen")) / 8; }

class AesGcmCavpTest : public ::testing::TestWithParam<int> {};

TEST_P(AesGcmCavpTest, EncryptGivesTheCiphertextAndTag) {
  const auto records =
      LoadKatRecords("nist_gcm/gcmEncryptExtIV" + std::to_string(GetParam()) + ".rsp", "Count");
  ASSERT_GE(records.size(), 12u);
  for (const auto& r : records) {
    SCOPED_TRACE("Keylen " + r.section.at("Keylen") + " IVlen " + r.section.at("IVlen") +
                 " PTlen " + r.section.at("PTlen") + " AADlen " + r.section.at("AADlen") +
                 " Taglen " + r.section.at("Taglen") + " Count " + r.Get("Count"));
    auto out = AesGcmEncrypt(Unhex(r.Get("Key")), Unhex(r.Get("IV")), Unhex(r.Get("PT")),
                             Unhex(r.Get("AAD")), TagBytes(r));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(HexEncode(*out), r.Get("CT") + r.Get("Tag"));
  }
}

TEST_P(AesGcmCavpTest, DecryptOpensValidRecordsAndRefusesTheFailures) {
  const auto records =
      LoadKatRecords("nist_gcm/gcmDecrypt" + std::to_string(GetParam()) + ".rsp", "Count");
  ASSERT_GE(records.size(), 12u);
  int refused = 0, opened = 0;
  for (const auto& r : records) {
    SCOPED_TRACE("IVlen " + r.section.at("IVlen") + " PTlen " + r.section.at("PTlen") + " AADlen " +
                 r.section.at("AADlen") + " Taglen " + r.section.at("Taglen") + " Count " +
                 r.Get("Count"));
    auto input = Unhex(r.Get("CT"));
    const auto tag = Unhex(r.Get("Tag"));
    input.insert(input.end(), tag.begin(), tag.end());
    auto out = AesGcmDecrypt(Unhex(r.Get("Key")), Unhex(r.Get("IV")), input, Unhex(r.Get("AAD")),
                             TagBytes(r));
    if (r.fail) {
      ASSERT_FALSE(out) << "a record marked FAIL decrypted";
      EXPECT_EQ(out.error().code(), Code::kUnauthenticated) << out.error().message();
      ++refused;
    } else {
      ASSERT_TRUE(out) << out.error().message();
      EXPECT_TRUE(out->Equals(Unhex(r.Get("PT"))));
      ++opened;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(opened, 0);
}

INSTANTIATE_TEST_SUITE_P(KeySizes, AesGcmCavpTest, ::testing::Values(128, 192, 256));

TEST(HkdfRfc5869Test, TestCases1To3) {
  const auto records = LoadKatRecords("rfc5869/rfc-5869-HKDF-SHA256.txt", "COUNT");
  ASSERT_EQ(records.size(), 3u);
  for (const auto& r : records) {
    SCOPED_TRACE("RFC 5869 A." + r.Get("COUNT"));
    ASSERT_EQ(r.Get("Hash"), "SHA-256");
    auto okm = Hkdf(HashAlg::kSha256, Unhex(r.Get("IKM")), Unhex(r.Get("salt")),
                    Unhex(r.Get("info")), std::stoul(r.Get("L")));
    ASSERT_TRUE(okm) << okm.error().message();
    EXPECT_EQ(HexEncode(okm->Reveal()), r.Get("OKM"));
  }
}

TEST(HkdfRfc5869Test, OutputLengthOutsideTheRfcBoundIsRefused) {
  const std::vector<uint8_t> ikm(22, 0x0b);
  EXPECT_EQ(Hkdf(HashAlg::kSha256, ikm, {}, {}, 0).error().code(), Code::kInvalidArgument);
  auto too_long = Hkdf(HashAlg::kSha256, ikm, {}, {}, 255 * 32 + 1);
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.error().message().find("1 to 8160"), std::string::npos)
      << too_long.error().message();
  EXPECT_TRUE(Hkdf(HashAlg::kSha256, ikm, {}, {}, 255 * 32));
}

}  // namespace
}  // namespace kmra::crypto
