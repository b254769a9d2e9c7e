#include <gtest/gtest.h>

#include "base/hex.h"
#include "crypto/aes_gcm.h"
#include "crypto/aes_kw.h"
#include "test_util.h"

namespace kmra::crypto {
namespace {

std::vector<uint8_t> H(std::string_view hex) { return *HexDecode(hex); }

struct KwVector {
  const char* kek;
  const char* key;
  const char* wrapped;
};

// RFC 3394 section 4.1 - 4.6.
constexpr KwVector kRfc3394[] = {
    {"000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
     "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
    {"000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF",
     "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
    {"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"},
    {"000102030405060708090A0B0C0D0E0F1011121314151617",
     "00112233445566778899AABBCCDDEEFF0001020304050607",
     "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2"},
    {"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF0001020304050607",
     "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"},
    {"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
     "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
};

TEST(AesKwTest, Rfc3394Section4Vectors) {
  for (const auto& v : kRfc3394) {
    auto wrapped = AesKeyWrap(H(v.kek), H(v.key));
    ASSERT_TRUE(wrapped) << wrapped.error().message();
    EXPECT_EQ(HexEncodeUpper(*wrapped), v.wrapped);
    auto key = AesKeyUnwrap(H(v.kek), H(v.wrapped));
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_TRUE(key->Equals(H(v.key)));
  }
}

TEST(AesKwTest, Rfc5649Section6Vectors) {
  const auto kek = H("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
  // 20-octet key.
  auto w20 = AesKeyWrapPad(kek, H("c37b7e6492584340bed12207808941155068f738"));
  ASSERT_TRUE(w20) << w20.error().message();
  EXPECT_EQ(HexEncode(*w20), "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
  EXPECT_TRUE(AesKeyUnwrapPad(kek, *w20)->Equals(H("c37b7e6492584340bed12207808941155068f738")));
  // 7-octet key.
  auto w7 = AesKeyWrapPad(kek, H("466f7250617369"));
  ASSERT_TRUE(w7);
  EXPECT_EQ(HexEncode(*w7), "afbeb0f07dfbf5419200f2ccb50bb24f");
  EXPECT_TRUE(AesKeyUnwrapPad(kek, *w7)->Equals(H("466f7250617369")));
}

TEST(AesKwTest, WrongKekAndTamperingAreUnauthenticated) {
  const auto kek = H("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
  auto other = kek;
  other[0] ^= 1;
  std::vector<uint8_t> pkcs8(1217, 0x5a);  // any length: the padded variant takes it
  auto wrapped = *AesKeyWrapPad(kek, pkcs8);
  EXPECT_EQ(wrapped.size(), 1232u);
  auto r = AesKeyUnwrapPad(other, wrapped);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  EXPECT_NE(r.error().message().find("integrity check"), std::string::npos);
  wrapped[100] ^= 1;
  EXPECT_EQ(AesKeyUnwrapPad(kek, wrapped).error().code(), Code::kUnauthenticated);
  auto w = *AesKeyWrap(kek, H("00112233445566778899AABBCCDDEEFF"));
  w[5] ^= 1;
  EXPECT_EQ(AesKeyUnwrap(kek, w).error().code(), Code::kUnauthenticated);
}

TEST(AesKwTest, BadLengthsAreNamed) {
  const auto kek = H("000102030405060708090A0B0C0D0E0F");
  EXPECT_NE(AesKeyWrap(kek, H("0011223344556677")).error().message().find("at least 16"),
            std::string::npos);
  EXPECT_NE(AesKeyWrap(kek, std::vector<uint8_t>(20)).error().message().find("multiple of 8"),
            std::string::npos);
  EXPECT_NE(AesKeyWrap(std::vector<uint8_t>(15), std::vector<uint8_t>(16))
                .error()
                .message()
                .find("KEK is 15 bytes"),
            std::string::npos);
  EXPECT_NE(AesKeyUnwrapPad(kek, std::vector<uint8_t>(12)).error().message().find("12 bytes"),
            std::string::npos);
  EXPECT_FALSE(AesKeyWrapPad(kek, {}));
  EXPECT_FALSE(AesKeyUnwrap(kek, std::vector<uint8_t>(16)));
}

TEST(AesKwTest, CrossCheckWithOpensslCli) {
  testing::TempDir dir;
  const std::string kek = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
  std::vector<uint8_t> data(45);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  testing::Write(dir / "in", data);
  ASSERT_TRUE(testing::Openssl("enc -id-aes256-wrap-pad -K " + kek + " -iv A65959A6 -in " +
                               (dir / "in").string() + " -out " + (dir / "out").string()));
  auto theirs = testing::Read(dir / "out");
  EXPECT_EQ(theirs, *AesKeyWrapPad(H(kek), data));
  EXPECT_TRUE(AesKeyUnwrapPad(H(kek), theirs)->Equals(data));
}

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13, 14 and 16 (AES-256).
TEST(AesGcmTest, KnownAnswers) {
  const auto zero_key = std::vector<uint8_t>(32, 0);
  const auto zero_iv = std::vector<uint8_t>(12, 0);
  EXPECT_EQ(HexEncode(*AesGcmEncrypt(zero_key, zero_iv, {})), "530f8afbc74536b9a963b4f1c4cb738b");
  EXPECT_EQ(HexEncode(*AesGcmEncrypt(zero_key, zero_iv, std::vector<uint8_t>(16, 0))),
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  const auto key = H("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = H("cafebabefacedbaddecaf888");
  const auto pt = H(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
      "b525b16aedf5aa0de657ba637b39");
  const auto aad = H("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string expected =
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
      "828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b";
  auto ct = AesGcmEncrypt(key, iv, pt, aad);
  ASSERT_TRUE(ct) << ct.error().message();
  EXPECT_EQ(HexEncode(*ct), expected);
  auto back = AesGcmDecrypt(key, iv, *ct, aad);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(back->Equals(pt));
}

TEST(AesGcmTest, SealOpenAndTamper) {
  const auto key = std::vector<uint8_t>(32, 7);
  auto sealed = *AesGcmSeal(key, testing::B("token object"), testing::B("slot 1"));
  EXPECT_EQ(sealed.size(), 12u + 12u + 16u);
  EXPECT_EQ(AesGcmOpen(key, sealed, testing::B("slot 1"))->RevealAsString(), "token object");
  EXPECT_NE(*AesGcmSeal(key, testing::B("token object")), sealed);  // fresh IV each time
  auto r = AesGcmOpen(key, sealed, testing::B("slot 2"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnauthenticated);
  sealed[14] ^= 1;
  EXPECT_EQ(AesGcmOpen(key, sealed, testing::B("slot 1")).error().code(), Code::kUnauthenticated);
  EXPECT_NE(AesGcmOpen(key, std::span(sealed).first(20)).error().message().find("at least 28"),
            std::string::npos);
  EXPECT_NE(
      AesGcmSeal(std::vector<uint8_t>(20), {}).error().message().find("expected 16, 24 or 32"),
      std::string::npos);
  EXPECT_NE(AesGcmEncrypt(key, {}, {}).error().message().find("IV is 0 bytes"), std::string::npos);
  EXPECT_NE(AesGcmEncrypt(key, std::vector<uint8_t>(257), {}).error().message().find("IV is 257"),
            std::string::npos);
  EXPECT_NE(AesGcmEncrypt(key, std::vector<uint8_t>(12), {}, {}, 10)
                .error()
                .message()
                .find("tag of 10 bytes"),
            std::string::npos);
}

// PKCS#11 CKM_AES_GCM takes other IV and tag lengths (CK_GCM_PARAMS); the token passes them on.
TEST(AesGcmTest, OtherIvAndTagLengthsRoundTripAndAreBound) {
  const auto key = std::vector<uint8_t>(24, 9);
  const auto iv = std::vector<uint8_t>(16, 3);
  auto ct = AesGcmEncrypt(key, iv, testing::B("sixteen byte msg"), testing::B("aad"), 12);
  ASSERT_TRUE(ct) << ct.error().message();
  EXPECT_EQ(ct->size(), 16u + 12u);
  EXPECT_TRUE(AesGcmDecrypt(key, iv, *ct, testing::B("aad"), 12));
  // The same bytes read with the default tag length, or under a 12-byte IV, do not open.
  EXPECT_EQ(AesGcmDecrypt(key, iv, *ct, testing::B("aad")).error().code(), Code::kUnauthenticated);
  EXPECT_EQ(AesGcmDecrypt(key, std::span(iv).first(12), *ct, testing::B("aad"), 12).error().code(),
            Code::kUnauthenticated);
}

// PKCS#11 CKM_AES_KEY_WRAP(_PAD) may name the IV; the default one given explicitly changes nothing.
TEST(AesKwTest, ExplicitIvs) {
  const auto kek = H("000102030405060708090A0B0C0D0E0F");
  const auto key = H("00112233445566778899AABBCCDDEEFF");
  EXPECT_EQ(*AesKeyWrap(kek, key, H("A6A6A6A6A6A6A6A6")), *AesKeyWrap(kek, key));
  EXPECT_EQ(*AesKeyWrapPad(kek, key, H("A65959A6")), *AesKeyWrapPad(kek, key));
  const auto other_iv = H("0102030405060708");
  auto wrapped = AesKeyWrap(kek, key, other_iv);
  ASSERT_TRUE(wrapped);
  EXPECT_NE(*wrapped, *AesKeyWrap(kek, key));
  EXPECT_TRUE(AesKeyUnwrap(kek, *wrapped, other_iv)->Equals(key));
  EXPECT_EQ(AesKeyUnwrap(kek, *wrapped).error().code(), Code::kUnauthenticated);
  auto bad = AesKeyWrapPad(kek, key, other_iv);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("IV of 4 bytes, not 8"), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace kmra::crypto
