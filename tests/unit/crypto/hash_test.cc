#include "crypto/hash.h"

#include <gtest/gtest.h>

#include "base/hex.h"

namespace kmra::crypto {
namespace {

constexpr std::string_view kTwoBlock448 =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view kTwoBlock896 =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopq"
    "rs"
    "mnopqrstnopqrstu";

std::span<const uint8_t> B(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// FIPS 180-2 / NIST CSRC example vectors.
TEST(HashTest, Sha256NistVectors) {
  EXPECT_EQ(HexEncode(Sha256(B(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256(B("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256(B(kTwoBlock448))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(HexEncode(Sha256(million)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HashTest, Sha384NistVectors) {
  EXPECT_EQ(
      HexEncode(Sha384(B("abc"))),
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca1"
      "34c825a7");
  EXPECT_EQ(
      HexEncode(Sha384(B(kTwoBlock896))),
      "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa"
      "91746039");
}

TEST(HashTest, Sha512NistVectors) {
  EXPECT_EQ(
      HexEncode(Sha512(B("abc"))),
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23"
      "a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(
      HexEncode(Sha512(B(kTwoBlock896))),
      "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99de"
      "c4b5433ac7d329eeb6dd26545e96e55b874be909");
}

TEST(HashTest, DigestAndHasherAgreeWithOneShot) {
  EXPECT_EQ(HexEncode(Digest(HashAlg::kSha1, B("abc"))),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  Hasher h(HashAlg::kSha256);
  h.Update("ab").Update(B("c"));
  EXPECT_EQ(HexEncode(h.Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Finish resets the hasher for reuse.
  EXPECT_EQ(HexEncode(h.Finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Hasher h384(HashAlg::kSha384);
  h384.Update(kTwoBlock896.substr(0, 50)).Update(kTwoBlock896.substr(50));
  auto full = Sha384(B(kTwoBlock896));
  EXPECT_EQ(h384.Finish(), std::vector<uint8_t>(full.begin(), full.end()));
}

TEST(HashTest, NamesAndSizes) {
  EXPECT_EQ(HashSize(HashAlg::kSha1), 20u);
  EXPECT_EQ(HashSize(HashAlg::kSha512), 64u);
  EXPECT_EQ(HashName(HashAlg::kSha384), "SHA-384");
  // Every algorithm's digest is as long as HashSize says (the table and the fetched digests agree).
  for (HashAlg a :
       {HashAlg::kSha1, HashAlg::kSha256, HashAlg::kSha384, HashAlg::kSha512, HashAlg::kSha224}) {
    EXPECT_EQ(Digest(a, B("abc")).size(), HashSize(a)) << HashName(a);
  }
  // SHA-224 (FIPS 180-4 example "abc"); PKCS#11 callers of the token name it, no command line does.
  EXPECT_EQ(HexEncode(Digest(HashAlg::kSha224, B("abc"))),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
  EXPECT_EQ(HashName(HashAlg::kSha224), "SHA-224");
  EXPECT_FALSE(ParseHashAlg("sha224"));
  EXPECT_EQ(*ParseHashAlg("SHA-256"), HashAlg::kSha256);
  EXPECT_EQ(*ParseHashAlg("sha1"), HashAlg::kSha1);
  auto r = ParseHashAlg("md5");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("unknown hash 'md5'"), std::string::npos);
}

}  // namespace
}  // namespace kmra::crypto
