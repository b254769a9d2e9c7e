// Wycheproof vectors (tests/data/kat/wycheproof, trimmed; see the README there) against the code
// the components call: AES key wrap with and without padding (the token's CKM_AES_KEY_WRAP and
// CKM_AES_KEY_WRAP_PAD, the release path), RSA-OAEP decryption (SHA-1 and SHA-256 with MGF1) and
// ECDSA P-256 verification over raw r || s (quote signatures).
#include <gtest/gtest.h>

#include "crypto/aes_kw.h"
#include "crypto/ec.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "crypto/rsa.h"
#include "kat_util.h"

namespace kmra::crypto {
namespace {

using testing::LoadWycheproof;
using testing::Unhex;

struct Tally {
  int valid = 0, invalid = 0;
};

Tally RunKeywrap(const nlohmann::json& doc, bool pad) {
  Tally tally;
  for (const auto& group : doc.at("testGroups")) {
    for (const auto& t : group.at("tests")) {
      const int id = t.at("tcId").get<int>();
      SCOPED_TRACE("tcId " + std::to_string(id) + " " + t.at("comment").get<std::string>());
      const auto key = Unhex(t.at("key").get<std::string>());
      const auto msg = Unhex(t.at("msg").get<std::string>());
      const auto ct = Unhex(t.at("ct").get<std::string>());
      const std::string result = t.at("result").get<std::string>();
      auto unwrapped = pad ? AesKeyUnwrapPad(key, ct) : AesKeyUnwrap(key, ct);
      auto wrapped = pad ? AesKeyWrapPad(key, msg) : AesKeyWrap(key, msg);
      if (result == "valid") {
        ++tally.valid;
        EXPECT_TRUE(unwrapped) << unwrapped.error().message();
        EXPECT_TRUE(wrapped) << wrapped.error().message();
        if (!unwrapped || !wrapped) continue;
        EXPECT_TRUE(unwrapped->Equals(msg));
        EXPECT_EQ(*wrapped, ct);
      } else if (result == "invalid") {
        EXPECT_FALSE(unwrapped) << "an invalid wrapped key was unwrapped";
        if (wrapped) {
          EXPECT_NE(*wrapped, ct);
        }
        ++tally.invalid;
      } else if (unwrapped) {
        // "acceptable": either answer is right, but an unwrapped key must be the message.
        EXPECT_TRUE(unwrapped->Equals(msg));
      }
    }
  }
  return tally;
}

TEST(WycheproofTest, AesKeyWrapRfc3394) {
  auto doc = LoadWycheproof("aes_wrap_test.json");
  ASSERT_FALSE(doc.is_null());
  ASSERT_EQ(doc.at("algorithm"), "AES-WRAP");
  const Tally t = RunKeywrap(doc, false);
  EXPECT_GE(t.valid, 15);
  EXPECT_GE(t.invalid, 40);
}

TEST(WycheproofTest, AesKeyWrapWithPaddingRfc5649) {
  auto doc = LoadWycheproof("aes_kwp_test.json");
  ASSERT_FALSE(doc.is_null());
  ASSERT_EQ(doc.at("algorithm"), "AES-KWP");
  const Tally t = RunKeywrap(doc, true);
  EXPECT_GE(t.valid, 20);
  EXPECT_GE(t.invalid, 10);
}

Tally RunOaep(const nlohmann::json& doc, HashAlg hash) {
  Tally tally;
  for (const auto& group : doc.at("testGroups")) {
    EXPECT_EQ(group.at("mgf"), "MGF1");
    auto key = PrivateKey::FromDer(Unhex(group.at("privateKeyPkcs8").get<std::string>()));
    EXPECT_TRUE(key) << key.error().message();
    if (!key) return tally;
    for (const auto& t : group.at("tests")) {
      SCOPED_TRACE("tcId " + std::to_string(t.at("tcId").get<int>()) + " " +
                   t.at("comment").get<std::string>());
      OaepParams params{hash, hash, Unhex(t.at("label").get<std::string>())};
      auto plain = RsaOaepDecrypt(*key, Unhex(t.at("ct").get<std::string>()), params);
      if (t.at("result") == "valid") {
        EXPECT_TRUE(plain) << plain.error().message();
        if (plain) {
          EXPECT_TRUE(plain->Equals(Unhex(t.at("msg").get<std::string>())));
        }
        ++tally.valid;
      } else {
        EXPECT_FALSE(plain) << "an invalid OAEP ciphertext was decrypted";
        ++tally.invalid;
      }
    }
  }
  return tally;
}

TEST(WycheproofTest, RsaOaep2048Sha1Mgf1Sha1) {
  auto doc = LoadWycheproof("rsa_oaep_2048_sha1_mgf1sha1_test.json");
  ASSERT_FALSE(doc.is_null());
  const Tally t = RunOaep(doc, HashAlg::kSha1);
  EXPECT_GE(t.valid, 9);
  EXPECT_GE(t.invalid, 9);
}

TEST(WycheproofTest, RsaOaep2048Sha256Mgf1Sha256) {
  auto doc = LoadWycheproof("rsa_oaep_2048_sha256_mgf1sha256_test.json");
  ASSERT_FALSE(doc.is_null());
  const Tally t = RunOaep(doc, HashAlg::kSha256);
  EXPECT_EQ(t.valid, 7);
}

TEST(WycheproofTest, EcdsaP256Sha256RawSignatures) {
  auto doc = LoadWycheproof("ecdsa_secp256r1_sha256_p1363_test.json");
  ASSERT_FALSE(doc.is_null());
  Tally tally;
  for (const auto& group : doc.at("testGroups")) {
    ASSERT_EQ(group.at("sha"), "SHA-256");
    auto key = EcPublicKeyFromPoint(
        EcCurve::kP256, Unhex(group.at("publicKey").at("uncompressed").get<std::string>()));
    ASSERT_TRUE(key) << key.error().message();
    for (const auto& t : group.at("tests")) {
      SCOPED_TRACE("tcId " + std::to_string(t.at("tcId").get<int>()) + " " +
                   t.at("comment").get<std::string>());
      auto st = EcdsaVerifyRaw(*key, HashAlg::kSha256, Unhex(t.at("msg").get<std::string>()),
                               Unhex(t.at("sig").get<std::string>()));
      if (t.at("result") == "valid") {
        EXPECT_TRUE(st) << st.error().message();
        ++tally.valid;
      } else {
        EXPECT_FALSE(st) << "an invalid signature verified";
        ++tally.invalid;
      }
    }
  }
  EXPECT_GE(tally.valid, 8);
  EXPECT_GE(tally.invalid, 25);
}

}  // namespace
}  // namespace kmra::crypto
