// Mechanisms: signatures checked by OpenSSL outside the token, OAEP with labels, AES-GCM, the
// release path's unwraps, and the CTK quote mechanism.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstring>

#include "crypto/ossl.h"
#include "kmra/pkcs11_vendor.h"
#include "token/keys.h"
#include "token_fixture.h"

namespace kmra::token::testing {
namespace {

class CryptoTest : public TokenTest {
 protected:
  void SetUp() override {
    TokenTest::SetUp();
    ASSERT_EQ(LoginUser(), CKR_OK);
  }

  // The public key as OpenSSL sees it, built from the token's public attributes only.
  ossl::Ptr<EVP_PKEY> PublicKey(CK_OBJECT_HANDLE pub) {
    Object o;
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof kt};
    C_GetAttributeValue(session_, pub, &a, 1);
    o.SetUlong(CKA_CLASS, CKO_PUBLIC_KEY);
    o.SetUlong(CKA_KEY_TYPE, kt);
    for (auto t : kt == CKK_RSA ? std::vector<CK_ATTRIBUTE_TYPE>{CKA_MODULUS, CKA_PUBLIC_EXPONENT}
                                : std::vector<CK_ATTRIBUTE_TYPE>{CKA_EC_PARAMS, CKA_EC_POINT}) {
      o.SetBytes(t, Attr(pub, t));
    }
    auto k = PublicKeyFromAttributes(o);
    return k ? std::move(*k) : nullptr;
  }

  std::vector<uint8_t> Sign(CK_MECHANISM m, CK_OBJECT_HANDLE key, std::span<const uint8_t> data) {
    if (C_SignInit(session_, &m, key) != CKR_OK) return {};
    CK_ULONG len = 0;
    if (C_Sign(session_, const_cast<uint8_t*>(data.data()), data.size(), nullptr, &len) != CKR_OK) {
      return {};
    }
    std::vector<uint8_t> sig(len);
    if (C_Sign(session_, const_cast<uint8_t*>(data.data()), data.size(), sig.data(), &len) !=
        CKR_OK) {
      return {};
    }
    sig.resize(len);
    return sig;
  }
};

const std::vector<uint8_t> kMessage = {'h', 'e', 'l', 'l', 'o', ' ', 't', 'o', 'k', 'e', 'n'};

std::vector<uint8_t> Sha256(std::span<const uint8_t> d) {
  std::vector<uint8_t> out(32);
  unsigned int len = 0;
  EVP_Digest(d.data(), d.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

TEST_F(CryptoTest, RsaSignaturesVerifyWithOpenSsl) {
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(2048, false, "rsa", &pub, &priv), CKR_OK);
  auto pk = PublicKey(pub);
  ASSERT_TRUE(pk);
  // CKM_SHA256_RSA_PKCS: OpenSSL verifies the message.
  auto sig = Sign({CKM_SHA256_RSA_PKCS, nullptr, 0}, priv, kMessage);
  ASSERT_EQ(sig.size(), 256u);
  auto ctx = ossl::Wrap(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pk.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), kMessage.data(), kMessage.size()),
            1);
  // CKM_RSA_PKCS_PSS over a hash, as TLS 1.3 through libp11 asks.
  CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
  auto hash = Sha256(kMessage);
  sig = Sign({CKM_RSA_PKCS_PSS, &pss, sizeof pss}, priv, hash);
  ASSERT_EQ(sig.size(), 256u);
  auto pctx = ossl::Wrap(EVP_PKEY_CTX_new(pk.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_verify_init(pctx.get()), 1);
  EVP_PKEY_CTX_set_rsa_padding(pctx.get(), RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_signature_md(pctx.get(), EVP_sha256());
  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx.get(), 32);
  EXPECT_EQ(EVP_PKEY_verify(pctx.get(), sig.data(), sig.size(), hash.data(), hash.size()), 1);
  // The caller's MGF1 hash and salt length are the ones used: SHA-256 with MGF1-SHA-1 and a 5-byte
  // salt verifies under exactly those, not under the defaults.
  CK_RSA_PKCS_PSS_PARAMS odd = {CKM_SHA256, CKG_MGF1_SHA1, 5};
  sig = Sign({CKM_SHA256_RSA_PKCS_PSS, &odd, sizeof odd}, priv, kMessage);
  ASSERT_EQ(sig.size(), 256u);
  for (const bool caller_params : {true, false}) {
    auto octx = ossl::Wrap(EVP_PKEY_CTX_new(pk.get(), nullptr));
    ASSERT_EQ(EVP_PKEY_verify_init(octx.get()), 1);
    EVP_PKEY_CTX_set_rsa_padding(octx.get(), RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_signature_md(octx.get(), EVP_sha256());
    EVP_PKEY_CTX_set_rsa_mgf1_md(octx.get(), caller_params ? EVP_sha1() : EVP_sha256());
    EVP_PKEY_CTX_set_rsa_pss_saltlen(octx.get(), caller_params ? 5 : 32);
    EXPECT_EQ(EVP_PKEY_verify(octx.get(), sig.data(), sig.size(), hash.data(), hash.size()) == 1,
              caller_params);
  }
  CK_MECHANISM odd_m = {CKM_SHA256_RSA_PKCS_PSS, &odd, sizeof odd};
  ASSERT_EQ(C_VerifyInit(session_, &odd_m, pub), CKR_OK);
  EXPECT_EQ(C_Verify(session_, const_cast<uint8_t*>(kMessage.data()), kMessage.size(), sig.data(),
                     sig.size()),
            CKR_OK);
  // PSS with a hash that does not match the mechanism's parameters is refused at init.
  CK_RSA_PKCS_PSS_PARAMS bad = {CKM_SHA384, CKG_MGF1_SHA384, 48};
  CK_MECHANISM m = {CKM_SHA256_RSA_PKCS_PSS, &bad, sizeof bad};
  EXPECT_EQ(C_SignInit(session_, &m, priv), CKR_MECHANISM_PARAM_INVALID);
  // SHA-224 is a PSS hash PKCS#11 names; the token signs with it and verifies its signature.
  CK_RSA_PKCS_PSS_PARAMS sha224 = {CKM_SHA224, CKG_MGF1_SHA224, 28};
  CK_MECHANISM m224 = {CKM_RSA_PKCS_PSS, &sha224, sizeof sha224};
  std::vector<uint8_t> digest224(28, 0x5a);
  ASSERT_EQ(C_SignInit(session_, &m224, priv), CKR_OK);
  std::vector<uint8_t> sig224(512);
  CK_ULONG sig224_len = sig224.size();
  ASSERT_EQ(C_Sign(session_, digest224.data(), digest224.size(), sig224.data(), &sig224_len),
            CKR_OK);
  ASSERT_EQ(C_VerifyInit(session_, &m224, pub), CKR_OK);
  EXPECT_EQ(C_Verify(session_, digest224.data(), digest224.size(), sig224.data(), sig224_len),
            CKR_OK);
  // A hash or MGF1 hash the token does not have is a parameter error.
  CK_RSA_PKCS_PSS_PARAMS md5 = {CKM_MD5, CKG_MGF1_SHA256, 16};
  CK_MECHANISM mmd5 = {CKM_RSA_PKCS_PSS, &md5, sizeof md5};
  EXPECT_EQ(C_SignInit(session_, &mmd5, priv), CKR_MECHANISM_PARAM_INVALID);
  CK_RSA_PKCS_PSS_PARAMS bad_mgf = {CKM_SHA256, 0x77, 32};
  CK_MECHANISM mbad = {CKM_RSA_PKCS_PSS, &bad_mgf, sizeof bad_mgf};
  EXPECT_EQ(C_SignInit(session_, &mbad, priv), CKR_MECHANISM_PARAM_INVALID);
  // The token verifies its own signature, and refuses a modified one.
  CK_MECHANISM v = {CKM_SHA256_RSA_PKCS, nullptr, 0};
  sig = Sign(v, priv, kMessage);
  ASSERT_EQ(C_VerifyInit(session_, &v, pub), CKR_OK);
  EXPECT_EQ(C_Verify(session_, const_cast<uint8_t*>(kMessage.data()), kMessage.size(), sig.data(),
                     sig.size()),
            CKR_OK);
  sig[10] ^= 1;
  ASSERT_EQ(C_VerifyInit(session_, &v, pub), CKR_OK);
  EXPECT_EQ(C_Verify(session_, const_cast<uint8_t*>(kMessage.data()), kMessage.size(), sig.data(),
                     sig.size()),
            CKR_SIGNATURE_INVALID);
}

TEST_F(CryptoTest, EcdsaIsRawRsAndMultiPartMatchesSinglePart) {
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(0, false, "ec", &pub, &priv), CKR_OK);
  auto hash = Sha256(kMessage);
  auto sig = Sign({CKM_ECDSA, nullptr, 0}, priv, hash);
  ASSERT_EQ(sig.size(), 64u);
  // Multi-part CKM_ECDSA_SHA256 over the message, verified by the token with CKM_ECDSA.
  CK_MECHANISM m = {CKM_ECDSA_SHA256, nullptr, 0};
  ASSERT_EQ(C_SignInit(session_, &m, priv), CKR_OK);
  ASSERT_EQ(C_SignUpdate(session_, const_cast<uint8_t*>(kMessage.data()), 5), CKR_OK);
  ASSERT_EQ(C_SignUpdate(session_, const_cast<uint8_t*>(kMessage.data()) + 5, kMessage.size() - 5),
            CKR_OK);
  std::vector<uint8_t> sig2(64);
  CK_ULONG len = sig2.size();
  ASSERT_EQ(C_SignFinal(session_, sig2.data(), &len), CKR_OK);
  CK_MECHANISM raw = {CKM_ECDSA, nullptr, 0};
  for (const auto& s : {sig, sig2}) {
    ASSERT_EQ(C_VerifyInit(session_, &raw, pub), CKR_OK);
    EXPECT_EQ(
        C_Verify(session_, hash.data(), hash.size(), const_cast<uint8_t*>(s.data()), s.size()),
        CKR_OK);
  }
  // Key type mismatch.
  CK_MECHANISM rsa = {CKM_RSA_PKCS, nullptr, 0};
  EXPECT_EQ(C_SignInit(session_, &rsa, priv), CKR_KEY_TYPE_INCONSISTENT);
}

TEST_F(CryptoTest, OaepWithLabelRoundTrips) {
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(2048, false, "rsa", &pub, &priv), CKR_OK);
  uint8_t label[] = "a label";
  CK_RSA_PKCS_OAEP_PARAMS p = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label, 7};
  CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &p, sizeof p};
  ASSERT_EQ(C_EncryptInit(session_, &m, pub), CKR_OK);
  std::vector<uint8_t> ct(256);
  CK_ULONG len = ct.size();
  ASSERT_EQ(
      C_Encrypt(session_, const_cast<uint8_t*>(kMessage.data()), kMessage.size(), ct.data(), &len),
      CKR_OK);
  ASSERT_EQ(C_DecryptInit(session_, &m, priv), CKR_OK);
  std::vector<uint8_t> pt(256);
  len = pt.size();
  ASSERT_EQ(C_Decrypt(session_, ct.data(), ct.size(), pt.data(), &len), CKR_OK);
  pt.resize(len);
  EXPECT_EQ(pt, kMessage);
  // Another label does not decrypt.
  p.ulSourceDataLen = 3;
  ASSERT_EQ(C_DecryptInit(session_, &m, priv), CKR_OK);
  len = 256;
  EXPECT_EQ(C_Decrypt(session_, ct.data(), ct.size(), pt.data(), &len), CKR_ENCRYPTED_DATA_INVALID);
}

TEST_F(CryptoTest, AesGcmRoundTripAndTagCheck) {
  CK_ULONG len32 = 32;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE t[] = {
      {CKA_VALUE_LEN, &len32, sizeof len32}, {CKA_ENCRYPT, &yes, 1}, {CKA_DECRYPT, &yes, 1}};
  CK_MECHANISM gen = {CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE key;
  ASSERT_EQ(C_GenerateKey(session_, &gen, t, 3, &key), CKR_OK);
  uint8_t iv[12] = {1, 2, 3};
  uint8_t aad[] = {'a', 'a', 'd'};
  CK_GCM_PARAMS g = {iv, sizeof iv, 96, aad, sizeof aad, 128};
  CK_MECHANISM m = {CKM_AES_GCM, &g, sizeof g};
  ASSERT_EQ(C_EncryptInit(session_, &m, key), CKR_OK);
  CK_ULONG len = 0;
  ASSERT_EQ(
      C_Encrypt(session_, const_cast<uint8_t*>(kMessage.data()), kMessage.size(), nullptr, &len),
      CKR_OK);
  EXPECT_EQ(len, kMessage.size() + 16);
  std::vector<uint8_t> ct(len);
  ASSERT_EQ(
      C_Encrypt(session_, const_cast<uint8_t*>(kMessage.data()), kMessage.size(), ct.data(), &len),
      CKR_OK);
  ASSERT_EQ(C_DecryptInit(session_, &m, key), CKR_OK);
  std::vector<uint8_t> pt(ct.size());
  len = pt.size();
  ASSERT_EQ(C_Decrypt(session_, ct.data(), ct.size(), pt.data(), &len), CKR_OK);
  pt.resize(len);
  EXPECT_EQ(pt, kMessage);
  ct.back() ^= 1;
  ASSERT_EQ(C_DecryptInit(session_, &m, key), CKR_OK);
  len = pt.size();
  EXPECT_EQ(C_Decrypt(session_, ct.data(), ct.size(), pt.data(), &len), CKR_ENCRYPTED_DATA_INVALID);
  // The key value is sensitive.
  CK_ATTRIBUTE v = {CKA_VALUE, nullptr, 0};
  EXPECT_EQ(C_GetAttributeValue(session_, key, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
}

// The KMRA release path: the key server wraps an AES key with OAEP (SHA-1) to our public key and
// a PKCS#8 private key with AES-KWP; the token unwraps both into a persistent signing key.
TEST_F(CryptoTest, ReleasePathUnwrapsIntoAPersistentKey) {
  CK_OBJECT_HANDLE cust_pub, cust_priv;
  ASSERT_EQ(GenerateKeyPair(2048, false, "cust", &cust_pub, &cust_priv), CKR_OK);
  auto server_view = PublicKey(cust_pub);
  // Server side, with OpenSSL: SWK, wrapped key, wrapped SWK.
  uint8_t swk[32];
  for (int i = 0; i < 32; ++i) swk[i] = static_cast<uint8_t>(i * 7);
  ossl::Ptr<EVP_PKEY> released(EVP_EC_gen("P-256"));
  auto p8 = ToPkcs8(released.get());
  ASSERT_TRUE(p8);
  auto wctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  EVP_CIPHER_CTX_set_flags(wctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  ASSERT_EQ(EVP_EncryptInit_ex(wctx.get(), EVP_aes_256_wrap_pad(), nullptr, swk, nullptr), 1);
  std::vector<uint8_t> wrapped_key(p8->size() + 16);
  int l1 = 0, l2 = 0;
  ASSERT_EQ(EVP_EncryptUpdate(wctx.get(), wrapped_key.data(), &l1, p8->Reveal().data(), p8->size()),
            1);
  ASSERT_EQ(EVP_EncryptFinal_ex(wctx.get(), wrapped_key.data() + l1, &l2), 1);
  wrapped_key.resize(l1 + l2);
  auto ectx = ossl::Wrap(EVP_PKEY_CTX_new(server_view.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_encrypt_init(ectx.get()), 1);
  EVP_PKEY_CTX_set_rsa_padding(ectx.get(), RSA_PKCS1_OAEP_PADDING);
  EVP_PKEY_CTX_set_rsa_oaep_md(ectx.get(), EVP_sha1());
  std::vector<uint8_t> wrapped_swk(256);
  size_t wl = wrapped_swk.size();
  ASSERT_EQ(EVP_PKEY_encrypt(ectx.get(), wrapped_swk.data(), &wl, swk, sizeof swk), 1);

  // Token side.
  CK_OBJECT_CLASS secret = CKO_SECRET_KEY, priv_cls = CKO_PRIVATE_KEY;
  CK_KEY_TYPE aes = CKK_AES, ec = CKK_EC;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE swk_t[] = {{CKA_CLASS, &secret, sizeof secret},
                          {CKA_KEY_TYPE, &aes, sizeof aes},
                          {CKA_TOKEN, &no, 1},
                          {CKA_UNWRAP, &yes, 1}};
  CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM m_oaep = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
  CK_OBJECT_HANDLE swk_h;
  ASSERT_EQ(C_UnwrapKey(session_, &m_oaep, cust_priv, wrapped_swk.data(), wl, swk_t, 4, &swk_h),
            CKR_OK);
  char label[] = "tls";
  uint8_t id[] = {9, 9};
  CK_ATTRIBUTE key_t[] = {{CKA_CLASS, &priv_cls, sizeof priv_cls},
                          {CKA_KEY_TYPE, &ec, sizeof ec},
                          {CKA_TOKEN, &yes, 1},
                          {CKA_PRIVATE, &yes, 1},
                          {CKA_SENSITIVE, &yes, 1},
                          {CKA_EXTRACTABLE, &no, 1},
                          {CKA_SIGN, &yes, 1},
                          {CKA_LABEL, label, 3},
                          {CKA_ID, id, 2}};
  CK_MECHANISM m_kwp = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_HANDLE key_h;
  ASSERT_EQ(C_UnwrapKey(session_, &m_kwp, swk_h, wrapped_key.data(), wrapped_key.size(), key_t, 9,
                        &key_h),
            CKR_OK);
  // As in CTK, the unwrapping keys are gone.
  CK_ATTRIBUTE probe = {CKA_CLASS, nullptr, 0};
  EXPECT_EQ(C_GetAttributeValue(session_, cust_priv, &probe, 1), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(C_GetAttributeValue(session_, swk_h, &probe, 1), CKR_OBJECT_HANDLE_INVALID);
  // The released key survives a restart and signs what the server's public key verifies.
  Restart();
  ASSERT_EQ(LoginUser(), CKR_OK);
  auto found = Find({{CKA_CLASS, &priv_cls, sizeof priv_cls}, {CKA_LABEL, label, 3}});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(Attr(found[0], CKA_LOCAL), std::vector<uint8_t>{CK_FALSE});
  auto hash = Sha256(kMessage);
  auto sig = Sign({CKM_ECDSA, nullptr, 0}, found[0], hash);
  ASSERT_EQ(sig.size(), 64u);
  std::vector<uint8_t> der;
  {
    auto s = ossl::Wrap(ECDSA_SIG_new());
    ECDSA_SIG_set0(s.get(), BN_bin2bn(sig.data(), 32, nullptr),
                   BN_bin2bn(sig.data() + 32, 32, nullptr));
    der.resize(i2d_ECDSA_SIG(s.get(), nullptr));
    unsigned char* q = der.data();
    i2d_ECDSA_SIG(s.get(), &q);
  }
  auto vctx = ossl::Wrap(EVP_PKEY_CTX_new(released.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_verify_init(vctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_verify(vctx.get(), der.data(), der.size(), hash.data(), hash.size()), 1);
  // A wrong wrapped key is refused with the PKCS#11 error, not a crash.
  wrapped_key[5] ^= 1;
  CK_OBJECT_HANDLE swk2;
  CK_ULONG len32 = 32;
  CK_ATTRIBUTE gen_t[] = {{CKA_VALUE_LEN, &len32, sizeof len32}, {CKA_UNWRAP, &yes, 1}};
  CK_MECHANISM gen = {CKM_AES_KEY_GEN, nullptr, 0};
  ASSERT_EQ(C_GenerateKey(session_, &gen, gen_t, 2, &swk2), CKR_OK);
  CK_OBJECT_HANDLE bad;
  EXPECT_EQ(
      C_UnwrapKey(session_, &m_kwp, swk2, wrapped_key.data(), wrapped_key.size(), key_t, 9, &bad),
      CKR_WRAPPED_KEY_INVALID);
}

TEST_F(CryptoTest, QuoteMechanismBindsTheKeyOnce) {
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(3072, false, "cust", &pub, &priv), CKR_OK);
  CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS params{};
  params.qlPolicy = SGX_QL_PERSISTENT;
  for (int i = 0; i < 32; ++i) params.nonce[i] = static_cast<CK_BYTE>(i);
  CK_MECHANISM m = {CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY, &params, sizeof params};
  CK_ULONG len = 0;
  ASSERT_EQ(C_WrapKey(session_, &m, 0, pub, nullptr, &len), CKR_OK);
  std::vector<uint8_t> out(len);
  ASSERT_EQ(C_WrapKey(session_, &m, 0, pub, out.data(), &len), CKR_OK);
  CK_RSA_PUBLIC_KEY_PARAMS header;
  std::memcpy(&header, out.data(), sizeof header);
  ASSERT_EQ(header.ulModulusLen, 384u);
  const uint8_t* e = out.data() + sizeof header;
  const uint8_t* n = e + header.ulExponentLen;
  EXPECT_EQ(std::vector<uint8_t>(n, n + 384), Attr(pub, CKA_MODULUS));
  std::vector<uint8_t> bound(e, n + header.ulModulusLen);
  bound.insert(bound.end(), params.nonce, params.nonce + 32);
  auto expected = Sha256(bound);
  const uint8_t* quote = n + header.ulModulusLen;
  ASSERT_EQ(static_cast<size_t>(out.data() + len - quote), 6u + 64u);
  EXPECT_EQ(std::vector<uint8_t>(quote + 6, quote + 38), expected);
  EXPECT_EQ(std::vector<uint8_t>(quote + 38, quote + 70), std::vector<uint8_t>(32, 0));
  // One quote per key.
  EXPECT_EQ(C_WrapKey(session_, &m, 0, pub, out.data(), &len), CKR_KEY_FUNCTION_NOT_PERMITTED);
  // Never a token key, never with a wrapping key.
  CK_OBJECT_HANDLE tpub, tpriv;
  ASSERT_EQ(GenerateKeyPair(2048, true, "tok", &tpub, &tpriv), CKR_OK);
  EXPECT_EQ(C_WrapKey(session_, &m, 0, tpub, nullptr, &len), CKR_KEY_NOT_WRAPPABLE);
  EXPECT_EQ(C_WrapKey(session_, &m, tpriv, tpub, nullptr, &len), CKR_WRAPPING_KEY_HANDLE_INVALID);
  m.ulParameterLen = 3;
  EXPECT_EQ(C_WrapKey(session_, &m, 0, tpub, nullptr, &len), CKR_MECHANISM_PARAM_INVALID);
}

}  // namespace
}  // namespace kmra::token::testing
