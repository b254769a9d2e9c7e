#include "security/custody/custody_fixture.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "crypto/aes_gcm.h"

namespace kmra::security {

std::unique_ptr<integration::TempDir> CustodyTest::dir_;
std::unique_ptr<integration::TokenEnv> CustodyTest::env_;
void* CustodyTest::module_ = nullptr;
CK_FUNCTION_LIST* CustodyTest::p11_ = nullptr;
std::string CustodyTest::log_path_;
int CustodyTest::saved_stderr_ = -1;
size_t CustodyTest::log_pos_ = 0;

namespace {

CK_BBOOL kTrue = CK_TRUE, kFalse = CK_FALSE;
CK_OBJECT_CLASS kSecretClass = CKO_SECRET_KEY, kPrivateClass = CKO_PRIVATE_KEY;
CK_KEY_TYPE kAes = CKK_AES, kRsa = CKK_RSA, kEc = CKK_EC;
const uint8_t kMessage[] = "a TLS handshake transcript";

CK_BBOOL* B(bool v) { return v ? &kTrue : &kFalse; }

Bytes BnBytes(const BIGNUM* bn, int pad = 0) {
  Bytes out(static_cast<size_t>(std::max(pad, BN_num_bytes(bn))));
  BN_bn2binpad(bn, out.data(), static_cast<int>(out.size()));
  return out;
}

Bytes PkeyBn(EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return {};
  Bytes out = BnBytes(bn, pad);
  BN_clear_free(bn);
  return out;
}

ossl::Ptr<EVP_PKEY> RsaPublic(const Bytes& n, const Bytes& e) {
  auto bld = ossl::Wrap(OSSL_PARAM_BLD_new());
  auto bn_n = ossl::Wrap(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  auto bn_e = ossl::Wrap(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld.get());
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1) {
    EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params);
  }
  OSSL_PARAM_free(params);
  return ossl::Ptr<EVP_PKEY>(key);
}

// One released key of each kind for the whole binary (generation is the slow part).
EVP_PKEY* ReleasedKey(KeyKind kind) {
  static EVP_PKEY* rsa = EVP_RSA_gen(2048);
  static EVP_PKEY* ec = EVP_EC_gen("P-256");
  return kind == KeyKind::kRsa ? rsa : ec;
}

}  // namespace

bool Contains(const Bytes& haystack, const Bytes& needle) {
  if (needle.empty()) return false;
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

void CustodyTest::SetUpTestSuite() {
  dir_ = std::make_unique<integration::TempDir>();
  env_ = std::make_unique<integration::TokenEnv>(*dir_);
  ASSERT_TRUE(env_->ok()) << env_->error();
  setenv("KMRA_TOKEN_CONF", env_->conf().c_str(), 1);
  unsetenv("KMRA_TOKEN_QUIET");
  // The module writes its refusals to stderr (NGINX's error log in production): keep them in a
  // file.
  log_path_ = *dir_ / "module.log";
  int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  ASSERT_GE(fd, 0);
  saved_stderr_ = dup(2);
  dup2(fd, 2);
  close(fd);
  // A sanitizer report or a crash also lands there, and the directory stays behind after a crash.
  std::printf("the module's stderr is kept in %s and echoed to stderr\n", log_path_.c_str());
  module_ = dlopen(env_->module().c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(module_, nullptr) << dlerror();
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(module_, "C_GetFunctionList"));
  ASSERT_NE(get_list, nullptr);
  ASSERT_EQ(get_list(&p11_), CKR_OK);
  ASSERT_EQ(p11_->C_Initialize(nullptr), CKR_OK);
}

void CustodyTest::TearDownTestSuite() {
  if (p11_ != nullptr) p11_->C_Finalize(nullptr);
  p11_ = nullptr;
  if (saved_stderr_ >= 0) {
    dup2(saved_stderr_, 2);
    close(saved_stderr_);
    saved_stderr_ = -1;
  }
  env_.reset();
  dir_.reset();
}

void CustodyTest::SetUp() {
  ASSERT_NE(p11_, nullptr) << "the token did not come up";
  ASSERT_EQ(
      p11_->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session_),
      CKR_OK);
  std::string pin = integration::kTokenPin;
  CK_RV rv =
      p11_->C_Login(session_, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size());
  ASSERT_TRUE(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) << rv;
  NewLog();
}

void CustodyTest::TearDown() {
  if (p11_ != nullptr && session_ != 0) p11_->C_CloseSession(session_);
}

CK_RV CustodyTest::GeneratePair(const PairTemplate& t, Pair& out) {
  static uint8_t f4[] = {1, 0, 1};
  CK_ULONG bits = t.bits;
  CK_ATTRIBUTE pub[] = {{CKA_TOKEN, B(t.pub_token), 1},
                        {CKA_ENCRYPT, &kTrue, 1},
                        {CKA_VERIFY, &kTrue, 1},
                        {CKA_WRAP, &kTrue, 1},
                        {CKA_MODULUS_BITS, &bits, sizeof bits},
                        {CKA_PUBLIC_EXPONENT, f4, 3}};
  CK_ATTRIBUTE priv[] = {{CKA_TOKEN, B(t.priv_token), 1},
                         {CKA_PRIVATE, &kTrue, 1},
                         {CKA_SENSITIVE, B(t.sensitive), 1},
                         {CKA_EXTRACTABLE, B(t.extractable), 1},
                         {CKA_DECRYPT, B(t.decrypt), 1},
                         {CKA_SIGN, B(t.sign), 1},
                         {CKA_UNWRAP, &kTrue, 1}};
  CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  return p11_->C_GenerateKeyPair(session_, &m, pub, 6, priv, 7, &out.pub, &out.priv);
}

CK_RV CustodyTest::Quote(CK_OBJECT_HANDLE pub, Bytes* modulus, Bytes* exponent) {
  CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS params{};
  params.qlPolicy = SGX_QL_PERSISTENT;
  RAND_bytes(params.nonce, sizeof params.nonce);
  CK_MECHANISM m = {CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY, &params, sizeof params};
  CK_ULONG len = 0;
  CK_RV rv = p11_->C_WrapKey(session_, &m, CK_INVALID_HANDLE, pub, nullptr, &len);
  if (rv != CKR_OK) return rv;
  Bytes out(len);
  rv = p11_->C_WrapKey(session_, &m, CK_INVALID_HANDLE, pub, out.data(), &len);
  if (rv != CKR_OK) return rv;
  CK_RSA_PUBLIC_KEY_PARAMS header;
  std::memcpy(&header, out.data(), sizeof header);
  const uint8_t* e = out.data() + sizeof header;
  if (exponent != nullptr) exponent->assign(e, e + header.ulExponentLen);
  if (modulus != nullptr) {
    modulus->assign(e + header.ulExponentLen, e + header.ulExponentLen + header.ulModulusLen);
  }
  return CKR_OK;
}

Release CustodyTest::MakeRelease(const Bytes& modulus, const Bytes& exponent, KeyKind kind,
                                 Wrap wrap) {
  Release r;
  r.swk.resize(32);
  RAND_bytes(r.swk.data(), 32);
  EVP_PKEY* key = ReleasedKey(kind);
  r.key = ossl::Ptr<EVP_PKEY>(EVP_PKEY_dup(key));
  r.key_secrets = kind == KeyKind::kRsa ? PkeyBn(key, OSSL_PKEY_PARAM_RSA_D)
                                        : PkeyBn(key, OSSL_PKEY_PARAM_PRIV_KEY, 32);
  auto p8inf = ossl::Wrap(EVP_PKEY2PKCS8(key));
  unsigned char* der = nullptr;
  int der_len = i2d_PKCS8_PRIV_KEY_INFO(p8inf.get(), &der);
  Bytes p8(der, der + der_len);
  OPENSSL_clear_free(der, static_cast<size_t>(der_len));
  if (wrap == Wrap::kKwp) {
    auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
    EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_wrap_pad(), nullptr, r.swk.data(), nullptr);
    r.wrapped_key.resize(p8.size() + 16);
    int l1 = 0, l2 = 0;
    EVP_EncryptUpdate(ctx.get(), r.wrapped_key.data(), &l1, p8.data(), static_cast<int>(p8.size()));
    EVP_EncryptFinal_ex(ctx.get(), r.wrapped_key.data() + l1, &l2);
    r.wrapped_key.resize(static_cast<size_t>(l1 + l2));
  } else {
    auto sealed = crypto::AesGcmSeal(r.swk, p8);
    if (sealed) r.wrapped_key = std::move(*sealed);
  }
  auto pub = RsaPublic(modulus, exponent);
  auto ectx = ossl::Wrap(EVP_PKEY_CTX_new(pub.get(), nullptr));
  size_t len = 0;
  if (ectx && EVP_PKEY_encrypt_init(ectx.get()) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(ectx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
      EVP_PKEY_CTX_set_rsa_oaep_md(ectx.get(), EVP_sha1()) == 1 &&
      EVP_PKEY_CTX_set_rsa_mgf1_md(ectx.get(), EVP_sha1()) == 1 &&
      EVP_PKEY_encrypt(ectx.get(), nullptr, &len, r.swk.data(), 32) == 1) {
    r.wrapped_swk.resize(len);
    EVP_PKEY_encrypt(ectx.get(), r.wrapped_swk.data(), &len, r.swk.data(), 32);
    r.wrapped_swk.resize(len);
  }
  return r;
}

CK_RV CustodyTest::UnwrapSwk(CK_OBJECT_HANDLE priv, const Release& r, CK_OBJECT_HANDLE& swk,
                             std::vector<CK_ATTRIBUTE> tmpl) {
  if (tmpl.empty()) {
    tmpl = {{CKA_CLASS, &kSecretClass, sizeof kSecretClass},
            {CKA_KEY_TYPE, &kAes, sizeof kAes},
            {CKA_TOKEN, &kFalse, 1},
            {CKA_SENSITIVE, &kTrue, 1},
            {CKA_EXTRACTABLE, &kFalse, 1},
            {CKA_UNWRAP, &kTrue, 1}};
  }
  CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
  Bytes wrapped = r.wrapped_swk;
  return p11_->C_UnwrapKey(session_, &m, priv, wrapped.data(), wrapped.size(), tmpl.data(),
                           tmpl.size(), &swk);
}

CK_RV CustodyTest::UnwrapReleasedKey(CK_OBJECT_HANDLE swk, const Release& r, CK_OBJECT_HANDLE& key,
                                     std::vector<CK_ATTRIBUTE> tmpl, KeyKind kind, Wrap wrap) {
  if (tmpl.empty()) {
    tmpl = {{CKA_CLASS, &kPrivateClass, sizeof kPrivateClass},
            {CKA_KEY_TYPE, kind == KeyKind::kRsa ? &kRsa : &kEc, sizeof kRsa},
            {CKA_TOKEN, &kFalse, 1},
            {CKA_PRIVATE, &kTrue, 1},
            {CKA_SENSITIVE, &kTrue, 1},
            {CKA_EXTRACTABLE, &kFalse, 1},
            {CKA_SIGN, &kTrue, 1}};
  }
  CK_MECHANISM m = {wrap == Wrap::kKwp ? CKM_AES_KEY_WRAP_PAD : CKM_AES_GCM, nullptr, 0};
  Bytes wrapped = r.wrapped_key;
  return p11_->C_UnwrapKey(session_, &m, swk, wrapped.data(), wrapped.size(), tmpl.data(),
                           tmpl.size(), &key);
}

void CustodyTest::ExpectSigns(CK_OBJECT_HANDLE key, const Release& r) {
  const bool rsa = EVP_PKEY_is_a(r.key.get(), "RSA");
  CK_MECHANISM m = {rsa ? CKM_SHA256_RSA_PKCS : CKM_ECDSA_SHA256, nullptr, 0};
  ASSERT_EQ(p11_->C_SignInit(session_, &m, key), CKR_OK);
  Bytes sig(512);
  CK_ULONG len = sig.size();
  Bytes msg(kMessage, kMessage + sizeof kMessage);
  ASSERT_EQ(p11_->C_Sign(session_, msg.data(), msg.size(), sig.data(), &len), CKR_OK);
  sig.resize(len);
  if (!rsa) {  // raw r || s to DER
    auto s = ossl::Wrap(ECDSA_SIG_new());
    ECDSA_SIG_set0(s.get(), BN_bin2bn(sig.data(), 32, nullptr),
                   BN_bin2bn(sig.data() + 32, 32, nullptr));
    Bytes der(static_cast<size_t>(i2d_ECDSA_SIG(s.get(), nullptr)));
    unsigned char* q = der.data();
    i2d_ECDSA_SIG(s.get(), &q);
    sig = der;
  }
  auto md = ossl::Wrap(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, r.key.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(md.get(), sig.data(), sig.size(), msg.data(), msg.size()), 1)
      << "the released key in the token does not sign as the server's key";
}

void CustodyTest::ExpectRedeems(CK_OBJECT_HANDLE priv, const Release& r, KeyKind kind, Wrap wrap) {
  CK_OBJECT_HANDLE swk = 0, key = 0;
  ASSERT_EQ(UnwrapSwk(priv, r, swk), CKR_OK);
  ASSERT_EQ(UnwrapReleasedKey(swk, r, key, {}, kind, wrap), CKR_OK);
  ASSERT_NO_FATAL_FAILURE(ExpectSigns(key, r));
  EXPECT_EQ(Custody(key), KMRA_CUSTODY_RELEASED);
  // The attestation key and the SWK served once and are gone.
  EXPECT_EQ(Read(priv, CKA_CLASS), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(Read(swk, CKA_CLASS), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(p11_->C_DestroyObject(session_, key), CKR_OK);
}

void CustodyTest::ExpectReleaseWorksWith(const Pair& pair, KeyKind kind, Wrap wrap) {
  Bytes n, e;
  ASSERT_EQ(Quote(pair.pub, &n, &e), CKR_OK);
  ExpectRedeems(pair.priv, MakeRelease(n, e, kind, wrap), kind, wrap);
}

void CustodyTest::ExpectLegitReleaseWorks(KeyKind kind, Wrap wrap) {
  Pair pair;
  ASSERT_EQ(GeneratePair(PairTemplate{}, pair), CKR_OK);
  ExpectReleaseWorksWith(pair, kind, wrap);
}

CK_RV CustodyTest::Read(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, Bytes* value) {
  CK_ATTRIBUTE a = {type, nullptr, 0};
  CK_RV rv = p11_->C_GetAttributeValue(session_, h, &a, 1);
  if (rv != CKR_OK) return rv;
  Bytes v(a.ulValueLen);
  a.pValue = v.data();
  rv = p11_->C_GetAttributeValue(session_, h, &a, 1);
  if (rv == CKR_OK && value != nullptr) *value = Bytes(v.begin(), v.begin() + a.ulValueLen);
  return rv;
}

bool CustodyTest::ReadBool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  Bytes v;
  return Read(h, type, &v) == CKR_OK && v.size() == 1 && v[0] != 0;
}

CK_ULONG CustodyTest::Custody(CK_OBJECT_HANDLE h) {
  CK_ULONG c = 99;
  CK_ATTRIBUTE a = {CKA_KMRA_CUSTODY, &c, sizeof c};
  return p11_->C_GetAttributeValue(session_, h, &a, 1) == CKR_OK ? c : 99;
}

CK_RV CustodyTest::SetBool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, bool value) {
  CK_ATTRIBUTE a = {type, B(value), 1};
  return p11_->C_SetAttributeValue(session_, h, &a, 1);
}

CK_OBJECT_HANDLE CustodyTest::AttackerAesKey(Bytes* value) {
  Bytes k(32);
  RAND_bytes(k.data(), 32);
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &kSecretClass, sizeof kSecretClass},
                      {CKA_KEY_TYPE, &kAes, sizeof kAes},
                      {CKA_TOKEN, &kFalse, 1},
                      {CKA_WRAP, &kTrue, 1},
                      {CKA_UNWRAP, &kTrue, 1},
                      {CKA_VALUE, k.data(), k.size()}};
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  EXPECT_EQ(p11_->C_CreateObject(session_, t, 6, &h), CKR_OK);
  if (value != nullptr) *value = k;
  return h;
}

CK_RV CustodyTest::WrapOut(CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, Bytes* out) {
  CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_ULONG len = 0;
  CK_RV rv = p11_->C_WrapKey(session_, &m, wrapping, key, nullptr, &len);
  if (rv != CKR_OK) return rv;
  Bytes buf(len);
  rv = p11_->C_WrapKey(session_, &m, wrapping, key, buf.data(), &len);
  if (rv == CKR_OK && out != nullptr) *out = Bytes(buf.begin(), buf.begin() + len);
  return rv;
}

CK_RV CustodyTest::DecryptInit(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key) {
  CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM m = {mech, nullptr, 0};
  if (mech == CKM_RSA_PKCS_OAEP) {
    m.pParameter = &oaep;
    m.ulParameterLen = sizeof oaep;
  }
  return p11_->C_DecryptInit(session_, &m, key);
}

CK_RV CustodyTest::SignInit(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key) {
  CK_MECHANISM m = {mech, nullptr, 0};
  return p11_->C_SignInit(session_, &m, key);
}

std::string CustodyTest::NewLog() {
  fflush(stderr);
  std::string all = integration::ReadFile(log_path_);
  std::string fresh = log_pos_ <= all.size() ? all.substr(log_pos_) : all;
  log_pos_ = all.size();
  if (saved_stderr_ >= 0 && !fresh.empty()) {
    (void)!write(saved_stderr_, fresh.data(), fresh.size());
  }
  return fresh;
}

void CustodyTest::ExpectOneRefusalLine(const std::string& why) {
  const std::string log = NewLog();
  std::istringstream lines(log);
  int refusals = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("custody: ") != std::string::npos &&
        line.find(" refused (") != std::string::npos) {
      ++refusals;
    }
  }
  EXPECT_EQ(refusals, 1) << "module log:\n" << log;
  EXPECT_NE(log.find(why), std::string::npos) << "expected '" << why << "' in:\n" << log;
}

}  // namespace kmra::security
