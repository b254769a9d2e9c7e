// PKCS#11 v2.40 conformance points a public conformance suite found wrong: template attributes
// (§4.1.3 CKF_ARRAY_ATTRIBUTE, §5.7), private session objects at C_Logout (§5.6), CKA_CHECK_VALUE
// of secret keys, the single-part / multi-part digest state machine (§5.2, §5.11).
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
#include <memory>

#include "token_fixture.h"

namespace kmra::token::testing {
namespace {

using ConformanceTest = TokenTest;

CK_OBJECT_CLASS kSecret = CKO_SECRET_KEY, kData = CKO_DATA;
CK_KEY_TYPE kAes = CKK_AES, kGeneric = CKK_GENERIC_SECRET;
CK_BBOOL kTrue = CK_TRUE, kFalse = CK_FALSE;

std::vector<uint8_t> Bytes(std::initializer_list<uint8_t> b) { return b; }

// Creates a secret key from `value` with extra attributes; returns the C_CreateObject result.
CK_RV CreateSecret(CK_SESSION_HANDLE s, CK_KEY_TYPE& kt, std::vector<uint8_t> value,
                   std::vector<CK_ATTRIBUTE> extra, CK_OBJECT_HANDLE* out) {
  std::vector<CK_ATTRIBUTE> t = {{CKA_CLASS, &kSecret, sizeof kSecret},
                                 {CKA_KEY_TYPE, &kt, sizeof kt},
                                 {CKA_VALUE, value.data(), value.size()}};
  t.insert(t.end(), extra.begin(), extra.end());
  return C_CreateObject(s, t.data(), t.size(), out);
}

TEST_F(ConformanceTest, TemplateAttributesAreStoredAndReturnedAsValues) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  // The creator's template lives on the heap and is scribbled over and freed after the call: the
  // token must have kept the values, not these pointers.
  auto label = std::make_unique<std::string>("unwrapped-by-template");
  auto no = std::make_unique<CK_BBOOL>(CK_FALSE);
  auto cls = std::make_unique<CK_OBJECT_CLASS>(CKO_PRIVATE_KEY);
  std::vector<CK_ATTRIBUTE> unwrap_t = {{CKA_EXTRACTABLE, no.get(), 1},
                                        {CKA_LABEL, label->data(), label->size()},
                                        {CKA_CLASS, cls.get(), sizeof(CK_OBJECT_CLASS)}};
  std::vector<CK_ATTRIBUTE> wrap_t = {{CKA_EXTRACTABLE, no.get(), 1}};
  CK_OBJECT_HANDLE key;
  ASSERT_EQ(
      CreateSecret(session_, kAes, std::vector<uint8_t>(16, 0x11),
                   {{CKA_TOKEN, &kTrue, 1},
                    {CKA_UNWRAP_TEMPLATE, unwrap_t.data(), unwrap_t.size() * sizeof(CK_ATTRIBUTE)},
                    {CKA_WRAP_TEMPLATE, wrap_t.data(), wrap_t.size() * sizeof(CK_ATTRIBUTE)}},
                   &key),
      CKR_OK);
  std::memset(label->data(), 'X', label->size());
  *no = CK_TRUE;
  *cls = CKO_DATA;
  label.reset();

  // Sealed as values: the template survives a new process.
  Restart();
  ASSERT_EQ(LoginUser(), CKR_OK);
  auto found = Find({{CKA_CLASS, &kSecret, sizeof kSecret}});
  ASSERT_EQ(found.size(), 1u);
  key = found[0];

  // 1. A NULL pValue asks for the size of the CK_ATTRIBUTE array.
  CK_ATTRIBUTE a = {CKA_UNWRAP_TEMPLATE, nullptr, 0};
  ASSERT_EQ(C_GetAttributeValue(session_, key, &a, 1), CKR_OK);
  ASSERT_EQ(a.ulValueLen, 3 * sizeof(CK_ATTRIBUTE));
  // 2. Elements with NULL pValue learn their types and lengths; the caller's pointers stay.
  std::vector<CK_ATTRIBUTE> elems(3, CK_ATTRIBUTE{0, nullptr, 0});
  a.pValue = elems.data();
  ASSERT_EQ(C_GetAttributeValue(session_, key, &a, 1), CKR_OK);
  std::map<CK_ATTRIBUTE_TYPE, CK_ULONG> lens;
  for (const auto& e : elems) {
    EXPECT_EQ(e.pValue, nullptr);
    lens[e.type] = e.ulValueLen;
  }
  EXPECT_EQ(lens,
            (std::map<CK_ATTRIBUTE_TYPE, CK_ULONG>{
                {CKA_CLASS, sizeof(CK_OBJECT_CLASS)}, {CKA_LABEL, 21}, {CKA_EXTRACTABLE, 1}}));
  // 3. Buffers get the values.
  std::vector<std::vector<uint8_t>> bufs;
  for (auto& e : elems) {
    bufs.emplace_back(e.ulValueLen, 0xEE);
    e.pValue = bufs.back().data();
  }
  ASSERT_EQ(C_GetAttributeValue(session_, key, &a, 1), CKR_OK);
  for (size_t i = 0; i < elems.size(); ++i) {
    EXPECT_EQ(elems[i].pValue, bufs[i].data());
    std::vector<uint8_t> v(bufs[i].begin(), bufs[i].begin() + elems[i].ulValueLen);
    if (elems[i].type == CKA_LABEL) {
      EXPECT_EQ(std::string(v.begin(), v.end()), "unwrapped-by-template");
    }
    if (elems[i].type == CKA_EXTRACTABLE) {
      EXPECT_EQ(v, Bytes({CK_FALSE}));
    }
    if (elems[i].type == CKA_CLASS) {
      CK_OBJECT_CLASS c;
      std::memcpy(&c, v.data(), sizeof c);
      EXPECT_EQ(c, static_cast<CK_OBJECT_CLASS>(CKO_PRIVATE_KEY));
    }
  }
  // A short element buffer: CKR_BUFFER_TOO_SMALL and CK_UNAVAILABLE_INFORMATION there only.
  for (auto& e : elems) {
    if (e.type == CKA_LABEL) e.ulValueLen = 3;
  }
  EXPECT_EQ(C_GetAttributeValue(session_, key, &a, 1), CKR_BUFFER_TOO_SMALL);
  for (const auto& e : elems) {
    if (e.type == CKA_LABEL) {
      EXPECT_EQ(e.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    }
  }
  // An outer array too short for the count.
  CK_ATTRIBUTE one[1] = {{0, nullptr, 0}};
  CK_ATTRIBUTE short_a = {CKA_UNWRAP_TEMPLATE, one, sizeof one};
  EXPECT_EQ(C_GetAttributeValue(session_, key, &short_a, 1), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(short_a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  // The wrap template too.
  CK_ATTRIBUTE w = {CKA_WRAP_TEMPLATE, nullptr, 0};
  ASSERT_EQ(C_GetAttributeValue(session_, key, &w, 1), CKR_OK);
  EXPECT_EQ(w.ulValueLen, sizeof(CK_ATTRIBUTE));
  // A search by template attribute compares values.
  CK_BBOOL f = CK_FALSE;
  CK_ATTRIBUTE probe[] = {{CKA_EXTRACTABLE, &f, 1}};
  EXPECT_EQ(Find({{CKA_WRAP_TEMPLATE, probe, sizeof probe}}), std::vector<CK_OBJECT_HANDLE>{key});
}

TEST_F(ConformanceTest, MalformedTemplateAttributesAreRefused) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  CK_ATTRIBUTE inner[] = {{CKA_EXTRACTABLE, &kFalse, 1}};
  CK_OBJECT_HANDLE h;
  // Not a whole number of CK_ATTRIBUTEs.
  EXPECT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 1),
                         {{CKA_WRAP_TEMPLATE, inner, sizeof inner - 1}}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  // Nested templates.
  CK_ATTRIBUTE nested[] = {{CKA_WRAP_TEMPLATE, inner, sizeof inner}};
  EXPECT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 1),
                         {{CKA_WRAP_TEMPLATE, nested, sizeof nested}}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  // A malformed CK_BBOOL inside.
  CK_ULONG wide = 1;
  CK_ATTRIBUTE bad_bool[] = {{CKA_EXTRACTABLE, &wide, sizeof wide}};
  EXPECT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 1),
                         {{CKA_WRAP_TEMPLATE, bad_bool, sizeof bad_bool}}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  // The well-formed one is accepted.
  EXPECT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 1),
                         {{CKA_WRAP_TEMPLATE, inner, sizeof inner}}, &h),
            CKR_OK);
}

TEST_F(ConformanceTest, LogoutDestroysPrivateSessionObjects) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  CK_OBJECT_HANDLE priv_session, priv_token, pub_session;
  ASSERT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 2), {}, &priv_session), CKR_OK);
  ASSERT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 3), {{CKA_TOKEN, &kTrue, 1}},
                         &priv_token),
            CKR_OK);
  std::string app = "public note";
  CK_ATTRIBUTE data_t[] = {{CKA_CLASS, &kData, sizeof kData},
                           {CKA_PRIVATE, &kFalse, 1},
                           {CKA_APPLICATION, app.data(), app.size()}};
  ASSERT_EQ(C_CreateObject(session_, data_t, 3, &pub_session), CKR_OK);
  // A second session sees the private session object too, until the logout.
  CK_SESSION_HANDLE other;
  ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &other), CKR_OK);
  CK_ULONG size = 0;
  ASSERT_EQ(C_GetObjectSize(other, priv_session, &size), CKR_OK);

  ASSERT_EQ(C_Logout(session_), CKR_OK);
  ASSERT_EQ(LoginUser(), CKR_OK);
  // The private session object is gone for good; its handle is invalid in every session.
  EXPECT_EQ(C_GetObjectSize(session_, priv_session, &size), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(C_GetObjectSize(other, priv_session, &size), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(C_DestroyObject(session_, priv_session), CKR_OBJECT_HANDLE_INVALID);
  // Public session objects and token objects stay.
  EXPECT_EQ(C_GetObjectSize(session_, pub_session, &size), CKR_OK);
  EXPECT_EQ(C_GetObjectSize(session_, priv_token, &size), CKR_OK);
  EXPECT_EQ(Find({{CKA_CLASS, &kSecret, sizeof kSecret}}),
            std::vector<CK_OBJECT_HANDLE>{priv_token});
  // New private session objects work after the new login.
  CK_OBJECT_HANDLE again;
  EXPECT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 4), {}, &again), CKR_OK);
  EXPECT_NE(again, priv_session);
}

TEST_F(ConformanceTest, CheckValueIsComputedAndAWrongOneRefused) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  // AES: the first 3 bytes of AES-ECB(key, 0^128). FIPS-197 known answer for the zero key:
  // 66e94bd4ef8a2c3b884cfa59ca342b2e.
  CK_OBJECT_HANDLE aes;
  ASSERT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 0), {}, &aes), CKR_OK);
  EXPECT_EQ(Attr(aes, CKA_CHECK_VALUE), Bytes({0x66, 0xe9, 0x4b}));
  // Generic secret: the first 3 bytes of SHA-1 of the value (SHA-1("abc") = a9993e36...).
  CK_OBJECT_HANDLE gen;
  ASSERT_EQ(CreateSecret(session_, kGeneric, {'a', 'b', 'c'}, {}, &gen), CKR_OK);
  EXPECT_EQ(Attr(gen, CKA_CHECK_VALUE), Bytes({0xa9, 0x99, 0x3e}));
  // A wrong supplied value is refused and creates nothing; the right one is accepted.
  uint8_t wrong[3] = {0x66, 0xe9, 0x4c};
  CK_OBJECT_HANDLE h;
  const size_t before = Find({{CKA_CLASS, &kSecret, sizeof kSecret}}).size();
  EXPECT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 0),
                         {{CKA_CHECK_VALUE, wrong, sizeof wrong}}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(Find({{CKA_CLASS, &kSecret, sizeof kSecret}}).size(), before);
  uint8_t right[3] = {0x66, 0xe9, 0x4b};
  EXPECT_EQ(CreateSecret(session_, kAes, std::vector<uint8_t>(16, 0),
                         {{CKA_CHECK_VALUE, right, sizeof right}}, &h),
            CKR_OK);
  // The check value is not settable.
  EXPECT_EQ(C_SetAttributeValue(session_, h,
                                std::vector<CK_ATTRIBUTE>{{CKA_CHECK_VALUE, wrong, 3}}.data(), 1),
            CKR_ATTRIBUTE_READ_ONLY);
  // Generated keys carry one too (the value is sensitive, the check value is not).
  CK_ULONG len = 32;
  CK_ATTRIBUTE gen_t[] = {{CKA_VALUE_LEN, &len, sizeof len}};
  CK_MECHANISM m = {CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE generated;
  ASSERT_EQ(C_GenerateKey(session_, &m, gen_t, 1, &generated), CKR_OK);
  EXPECT_EQ(Attr(generated, CKA_CHECK_VALUE).size(), 3u);
}

std::vector<uint8_t> Sha256(const std::string& s) {
  std::vector<uint8_t> d(32);
  SHA256(reinterpret_cast<const uint8_t*>(s.data()), s.size(), d.data());
  return d;
}

TEST_F(ConformanceTest, DigestSinglePartAndMultiPartDoNotMix) {
  CK_MECHANISM m = {CKM_SHA256, nullptr, 0};
  uint8_t ab[] = {'a', 'b'}, c[] = {'c'};
  std::vector<uint8_t> out(32);
  CK_ULONG len = out.size();
  // A multi-part operation: C_Digest answers CKR_OPERATION_ACTIVE and the operation goes on.
  ASSERT_EQ(C_DigestInit(session_, &m), CKR_OK);
  ASSERT_EQ(C_DigestUpdate(session_, ab, 2), CKR_OK);
  EXPECT_EQ(C_Digest(session_, c, 1, out.data(), &len), CKR_OPERATION_ACTIVE);
  ASSERT_EQ(C_DigestUpdate(session_, c, 1), CKR_OK);
  len = out.size();
  ASSERT_EQ(C_DigestFinal(session_, out.data(), &len), CKR_OK);
  EXPECT_EQ(out, Sha256("abc"));
  EXPECT_EQ(C_DigestUpdate(session_, c, 1), CKR_OPERATION_NOT_INITIALIZED);

  // A single-part length query: only C_Digest may finish it (C_DigestFinal would answer for
  // data it was never given). The refused C_DigestFinal ends the operation, as any failed
  // C_DigestFinal does (§5.2).
  ASSERT_EQ(C_DigestInit(session_, &m), CKR_OK);
  len = 0;
  ASSERT_EQ(C_Digest(session_, ab, 2, nullptr, &len), CKR_OK);
  EXPECT_EQ(len, 32u);
  len = out.size();
  EXPECT_EQ(C_DigestFinal(session_, out.data(), &len), CKR_OPERATION_ACTIVE);
  EXPECT_EQ(C_Digest(session_, ab, 2, out.data(), &len), CKR_OPERATION_NOT_INITIALIZED);
  // The same for C_DigestUpdate, after a short buffer too.
  ASSERT_EQ(C_DigestInit(session_, &m), CKR_OK);
  len = 8;
  EXPECT_EQ(C_Digest(session_, ab, 2, out.data(), &len), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, 32u);
  EXPECT_EQ(C_DigestUpdate(session_, c, 1), CKR_OPERATION_ACTIVE);
  EXPECT_EQ(C_DigestFinal(session_, out.data(), &len), CKR_OPERATION_NOT_INITIALIZED);
  // The legitimate single-part sequence: length query, short buffer, then the digest.
  ASSERT_EQ(C_DigestInit(session_, &m), CKR_OK);
  len = 0;
  ASSERT_EQ(C_Digest(session_, ab, 2, nullptr, &len), CKR_OK);
  len = 8;
  EXPECT_EQ(C_Digest(session_, ab, 2, out.data(), &len), CKR_BUFFER_TOO_SMALL);
  len = out.size();
  ASSERT_EQ(C_Digest(session_, ab, 2, out.data(), &len), CKR_OK);
  EXPECT_EQ(out, Sha256("ab"));
  EXPECT_EQ(C_DigestFinal(session_, out.data(), &len), CKR_OPERATION_NOT_INITIALIZED);

  // Signing keeps the older reading (pkcs11-tool --test-ec relies on it): C_SignFinal may end a
  // C_Sign whose length was asked for, and a new C_SignInit works afterwards.
  ASSERT_EQ(LoginUser(), CKR_OK);
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(0, false, "ec", &pub, &priv), CKR_OK);
  CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, nullptr, 0};
  ASSERT_EQ(C_SignInit(session_, &ecdsa, priv), CKR_OK);
  CK_ULONG sig_len = 0;
  ASSERT_EQ(C_Sign(session_, ab, 2, nullptr, &sig_len), CKR_OK);
  std::vector<uint8_t> sig(sig_len);
  EXPECT_EQ(C_SignFinal(session_, sig.data(), &sig_len), CKR_OK);
  ASSERT_EQ(C_SignInit(session_, &ecdsa, priv), CKR_OK);
  ASSERT_EQ(C_Sign(session_, ab, 2, sig.data(), &sig_len), CKR_OK);
  ASSERT_EQ(C_VerifyInit(session_, &ecdsa, pub), CKR_OK);
  EXPECT_EQ(C_Verify(session_, ab, 2, sig.data(), sig_len), CKR_OK);
}

}  // namespace
}  // namespace kmra::token::testing
