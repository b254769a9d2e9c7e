#include "crypto/ecdsa.h"

#include <gtest/gtest.h>
#include <openssl/ecdsa.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "base/hex.h"
#include "crypto/ec.h"
#include "test_util.h"

namespace kmra::crypto {
namespace {

using testing::B;
using testing::Openssl;
using testing::TempDir;

TEST(EcTest, GeneratesKeysOnBothCurves) {
  for (EcCurve c : {EcCurve::kP256, EcCurve::kP384}) {
    auto key = GenerateEcKey(c);
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(key->type(), KeyType::kEc);
    EXPECT_EQ(*EcCurveOf(*key), c);
    auto pub = key->PublicKey();
    ASSERT_TRUE(pub);
    auto point = EcPublicPoint(*pub);
    ASSERT_TRUE(point);
    EXPECT_EQ(point->size(), 1 + 2 * EcCoordinateSize(c));
    // Both the 04-prefixed and the bare X||Y form give back the same key.
    auto same = EcPublicKeyFromPoint(c, *point);
    ASSERT_TRUE(same) << same.error().message();
    EXPECT_TRUE(same->Equals(*pub));
    std::vector<uint8_t> xy(point->begin() + 1, point->end());
    EXPECT_TRUE(EcPublicKeyFromPoint(c, xy)->Equals(*pub));
  }
}

TEST(EcTest, RejectsBadPoints) {
  std::vector<uint8_t> junk(64, 0x11);
  auto r = EcPublicKeyFromPoint(EcCurve::kP256, junk);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("not on the curve"), std::string::npos);
  r = EcPublicKeyFromPoint(EcCurve::kP256, std::vector<uint8_t>(63, 1));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("63 bytes; expected 64"), std::string::npos);
  EXPECT_EQ(*ParseEcCurve("secp384r1"), EcCurve::kP384);
  EXPECT_FALSE(ParseEcCurve("P-521"));
}

// A coordinate must be below the field prime: x = p names the same residue as x = 0, which an
// encoder that reduced it would accept as another spelling of a point.
TEST(EcTest, RejectsCoordinateNotBelowThePrime) {
  auto good = *EcPublicPoint(*GenerateEcKey(EcCurve::kP256)->PublicKey());
  std::vector<uint8_t> bad = good;
  const std::vector<uint8_t> p256_prime =
      *HexDecode("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
  std::copy(p256_prime.begin(), p256_prime.end(), bad.begin() + 1);
  auto r = EcPublicKeyFromPoint(EcCurve::kP256, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  std::copy(p256_prime.begin(), p256_prime.end(), bad.begin() + 33);
  std::copy(good.begin() + 1, good.begin() + 33, bad.begin() + 1);
  EXPECT_FALSE(EcPublicKeyFromPoint(EcCurve::kP256, bad));
  EXPECT_TRUE(EcPublicKeyFromPoint(EcCurve::kP256, good));
}

// Key objects of one curve are built from one shared curve object: each keeps its own point, from
// any thread.
TEST(EcTest, KeysOfOneCurveAreIndependent) {
  std::vector<std::vector<uint8_t>> points;
  for (int i = 0; i < 4; ++i)
    points.push_back(*EcPublicPoint(*GenerateEcKey(EcCurve::kP256)->PublicKey()));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const auto& point = points[(t + i) % points.size()];
        auto key = EcPublicKeyFromPoint(EcCurve::kP256, point);
        if (!key || *EcPublicPoint(*key) != point) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  auto p384 = *EcPublicPoint(*GenerateEcKey(EcCurve::kP384)->PublicKey());
  EXPECT_EQ(*EcCurveOf(*EcPublicKeyFromPoint(EcCurve::kP384, p384)), EcCurve::kP384);
}

TEST(EcdsaTest, SignVerifyAndTamper) {
  auto key = *GenerateEcKey(EcCurve::kP256);
  auto pub = *key.PublicKey();
  auto sig = EcdsaSign(key, HashAlg::kSha256, B("quote body"));
  ASSERT_TRUE(sig) << sig.error().message();
  EXPECT_TRUE(EcdsaVerify(pub, HashAlg::kSha256, B("quote body"), *sig));
  auto bad = EcdsaVerify(pub, HashAlg::kSha256, B("quote bodY"), *sig);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kUnauthenticated);
  EXPECT_NE(bad.error().message().find("does not match"), std::string::npos);
  // Raw r||s form, as in SGX quotes.
  auto raw = EcdsaDerToRaw(*sig, 32);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 64u);
  EXPECT_TRUE(EcdsaVerifyRaw(pub, HashAlg::kSha256, B("quote body"), *raw));
  (*raw)[10] ^= 1;
  EXPECT_EQ(EcdsaVerifyRaw(pub, HashAlg::kSha256, B("quote body"), *raw).error().code(),
            Code::kUnauthenticated);
  // Digest variants agree with the message variants.
  auto digest = Sha256(B("quote body"));
  EXPECT_TRUE(EcdsaVerifyDigest(pub, digest, *sig));
  auto dsig = EcdsaSignDigest(key, digest);
  ASSERT_TRUE(dsig);
  EXPECT_TRUE(EcdsaVerify(pub, HashAlg::kSha256, B("quote body"), *dsig));
}

TEST(EcdsaTest, P384WithSha384) {
  auto key = *GenerateEcKey(EcCurve::kP384);
  auto pub = *key.PublicKey();
  auto sig = *EcdsaSign(key, HashAlg::kSha384, B("tcb info"));
  auto raw = *EcdsaDerToRaw(sig, 48);
  EXPECT_TRUE(EcdsaVerifyRaw(pub, HashAlg::kSha384, B("tcb info"), raw));
  auto wrong_len = EcdsaVerifyRaw(pub, HashAlg::kSha384, B("tcb info"), std::span(raw).first(64));
  ASSERT_FALSE(wrong_len);
  EXPECT_NE(wrong_len.error().message().find("a P-384 signature is 96"), std::string::npos);
}

TEST(EcdsaTest, RawDerConversionKnownAnswer) {
  // r = 1, s = 0x80 (needs a leading zero in DER to stay positive).
  std::vector<uint8_t> raw(64, 0);
  raw[31] = 0x01;
  raw[63] = 0x80;
  auto der = EcdsaRawToDer(raw);
  ASSERT_TRUE(der);
  EXPECT_EQ(HexEncode(*der),
            "3007020101020200"
            "80");
  EXPECT_EQ(*EcdsaDerToRaw(*der, 32), raw);
}

// The raw-to-DER encoder is written out; OpenSSL's i2d_ECDSA_SIG is the reference, over random
// halves shaped to hit every branch (zero, leading zero bytes, top bit set, long form length).
TEST(EcdsaTest, RawToDerMatchesOpenssl) {
  std::mt19937 rng(17);
  for (size_t size : {size_t{2}, size_t{64}, size_t{96}, size_t{132}}) {
    for (int i = 0; i < 400; ++i) {
      std::vector<uint8_t> raw(size);
      for (auto& b : raw) b = static_cast<uint8_t>(rng());
      const size_t half = size / 2;
      for (size_t h : {size_t{0}, half}) {
        switch (rng() % 4) {
          case 0:
            std::fill_n(raw.begin() + h, rng() % (half + 1), 0);
            break;  // leading zeros
          case 1:
            raw[h] |= 0x80;
            break;
          case 2:
            raw[h] &= 0x7f;
            break;
          default:
            break;
        }
      }
      ossl::Ptr<ECDSA_SIG> sig(ECDSA_SIG_new());
      ECDSA_SIG_set0(sig.get(), BN_bin2bn(raw.data(), static_cast<int>(half), nullptr),
                     BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr));
      unsigned char* der = nullptr;
      const int len = i2d_ECDSA_SIG(sig.get(), &der);
      ASSERT_GT(len, 0);
      const std::vector<uint8_t> want(der, der + len);
      OPENSSL_free(der);
      auto got = EcdsaRawToDer(raw);
      ASSERT_TRUE(got);
      ASSERT_EQ(HexEncode(*got), HexEncode(want)) << "raw " << HexEncode(raw);
      if (size > 2) {
        EXPECT_EQ(*EcdsaDerToRaw(*got, half), raw);
      }
    }
  }
}

TEST(EcdsaTest, MalformedSignaturesAreNamed) {
  auto pub = *GenerateEcKey(EcCurve::kP256)->PublicKey();
  auto sig = *EcdsaSign(*GenerateEcKey(EcCurve::kP256), HashAlg::kSha256, B("x"));
  auto truncated = std::span(sig).first(sig.size() - 3);
  auto r = EcdsaVerify(pub, HashAlg::kSha256, B("x"), truncated);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("not a DER SEQUENCE"), std::string::npos);
  auto trailing = sig;
  trailing.push_back(0);
  auto t = EcdsaDerToRaw(trailing, 32);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("1 trailing bytes"), std::string::npos);
  EXPECT_NE(EcdsaDerToRaw(sig, 16).error().message().find("longer than 16 bytes"),
            std::string::npos);
  EXPECT_NE(EcdsaRawToDer(std::vector<uint8_t>(63, 1)).error().message().find("63 bytes"),
            std::string::npos);
}

TEST(EcdsaTest, CrossCheckWithOpensslCli) {
  TempDir dir;
  ASSERT_TRUE(Openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                      (dir / "k.pem").string()));
  ASSERT_TRUE(Openssl("pkey -in " + (dir / "k.pem").string() + " -pubout -out " +
                      (dir / "pub.pem").string()));
  testing::Write(dir / "msg", B("hello from openssl"));
  // openssl signs, we verify.
  ASSERT_TRUE(Openssl("dgst -sha256 -sign " + (dir / "k.pem").string() + " -out " +
                      (dir / "sig1").string() + " " + (dir / "msg").string()));
  auto pem = testing::Read(dir / "pub.pem");
  auto pub = PublicKey::FromPem(std::string_view(reinterpret_cast<char*>(pem.data()), pem.size()));
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_TRUE(
      EcdsaVerify(*pub, HashAlg::kSha256, B("hello from openssl"), testing::Read(dir / "sig1")));
  // We sign, openssl verifies.
  auto kpem = testing::Read(dir / "k.pem");
  auto key = PrivateKey::Parse(kpem);
  ASSERT_TRUE(key) << key.error().message();
  auto sig = *EcdsaSign(*key, HashAlg::kSha256, B("hello from openssl"));
  testing::Write(dir / "sig2", sig);
  EXPECT_TRUE(Openssl("dgst -sha256 -verify " + (dir / "pub.pem").string() + " -signature " +
                      (dir / "sig2").string() + " " + (dir / "msg").string()));
  sig[sig.size() - 1] ^= 1;
  testing::Write(dir / "sig3", sig);
  EXPECT_FALSE(Openssl("dgst -sha256 -verify " + (dir / "pub.pem").string() + " -signature " +
                       (dir / "sig3").string() + " " + (dir / "msg").string()));
}

}  // namespace
}  // namespace kmra::crypto
