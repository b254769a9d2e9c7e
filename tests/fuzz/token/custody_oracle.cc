#include "custody_oracle.h"

#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "crypto/ossl.h"
#include "kmra/pkcs11_vendor.h"

Custody g_custody;

void InitCustody() {
  Custody& c = g_custody;
  c.swk.resize(32);
  RAND_bytes(c.swk.data(), 32);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  BIGNUM* d = nullptr;
  EVP_PKEY_get_bn_param(key, "priv", &d);
  c.key_scalar.resize(32);
  BN_bn2binpad(d, c.key_scalar.data(), 32);
  BN_clear_free(d);
  auto p8 = kmra::ossl::Wrap(EVP_PKEY2PKCS8(key));
  unsigned char* der = nullptr;
  int der_len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  c.key_der.assign(der, der + der_len);
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  auto wctx = kmra::ossl::Wrap(EVP_CIPHER_CTX_new());
  EVP_CIPHER_CTX_set_flags(wctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  c.wrapped_kwp.resize(c.key_der.size() + 16);
  int l1 = 0, l2 = 0;
  EVP_EncryptInit_ex(wctx.get(), EVP_aes_256_wrap_pad(), nullptr, c.swk.data(), nullptr);
  EVP_EncryptUpdate(wctx.get(), c.wrapped_kwp.data(), &l1, c.key_der.data(),
                    static_cast<int>(c.key_der.size()));
  EVP_EncryptFinal_ex(wctx.get(), c.wrapped_kwp.data() + l1, &l2);
  c.wrapped_kwp.resize(static_cast<size_t>(l1 + l2));
  auto gcm = kmra::crypto::AesGcmSeal(c.swk, c.key_der);
  if (gcm) c.wrapped_gcm = std::move(*gcm);
}

void ResetCustody() {
  g_custody.pairs.clear();
  g_custody.quoted.clear();
  g_custody.swks.clear();
  g_custody.released.clear();
  g_custody.wrapped_swk.clear();
}

[[noreturn]] void CustodyBroken(const char* what) {
  std::fprintf(stderr, "CUSTODY ORACLE: %s\n", what);
  __builtin_trap();
}

namespace {

bool Holds(const uint8_t* p, size_t n, const std::vector<uint8_t>& needle) {
  if (p == nullptr || needle.size() < 16 || n < 16) return false;
  const size_t w = 16;  // any 16 bytes of a secret
  for (size_t off = 0; off + w <= needle.size(); off += 8) {
    if (std::search(p, p + n, needle.begin() + off, needle.begin() + off + w) != p + n) return true;
  }
  return false;
}

}  // namespace

void CheckOutput(const uint8_t* p, size_t n) {
  if (n > 1u << 20) return;
  if (Holds(p, n, g_custody.swk) || Holds(p, n, g_custody.key_scalar) ||
      Holds(p, n, g_custody.key_der)) {
    CustodyBroken("an output holds bytes of the SWK or the released key");
  }
}

bool InCustody(CK_OBJECT_HANDLE h) {
  return g_custody.quoted.count(h) || g_custody.swks.count(h) || g_custody.released.count(h);
}

void NoteQuote(CK_OBJECT_HANDLE pub, const uint8_t* out, size_t len) {
  CK_RSA_PUBLIC_KEY_PARAMS h;
  if (out == nullptr || len < sizeof h) return;
  std::memcpy(&h, out, sizeof h);
  if (h.ulExponentLen + h.ulModulusLen + sizeof h > len) return;
  for (auto& [pb, pv] : g_custody.pairs) {
    if (pb == pub) g_custody.quoted.insert(pv);
  }
  const uint8_t* e = out + sizeof h;
  auto n =
      kmra::ossl::Wrap(BN_bin2bn(e + h.ulExponentLen, static_cast<int>(h.ulModulusLen), nullptr));
  auto ex = kmra::ossl::Wrap(BN_bin2bn(e, static_cast<int>(h.ulExponentLen), nullptr));
  auto bld = kmra::ossl::Wrap(OSSL_PARAM_BLD_new());
  if (!n || !ex || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), "n", n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), "e", ex.get()) != 1) {
    return;
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld.get());
  auto from = kmra::ossl::Wrap(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (from && EVP_PKEY_fromdata_init(from.get()) == 1) {
    EVP_PKEY_fromdata(from.get(), &raw, EVP_PKEY_PUBLIC_KEY, params);
  }
  OSSL_PARAM_free(params);
  auto pkey = kmra::ossl::Wrap(raw);
  if (!pkey) return;
  auto ctx = kmra::ossl::Wrap(EVP_PKEY_CTX_new(pkey.get(), nullptr));
  size_t out_len = 1024;
  std::vector<uint8_t> w(out_len);
  if (EVP_PKEY_encrypt_init(ctx.get()) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) == 1 &&
      EVP_PKEY_encrypt(ctx.get(), w.data(), &out_len, g_custody.swk.data(), 32) == 1) {
    w.resize(out_len);
    g_custody.wrapped_swk = std::move(w);
  }
}

void ProbeCustody(CK_SESSION_HANDLE s, const std::vector<CK_OBJECT_HANDLE>& created,
                  const std::vector<CK_OBJECT_HANDLE>& wrapping_keys) {
  for (CK_OBJECT_HANDLE k : created) {
    if (!InCustody(k)) continue;
    for (CK_ATTRIBUTE_TYPE type : {CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2}) {
      std::vector<uint8_t> v(1024);
      CK_ATTRIBUTE a = {type, v.data(), v.size()};
      if (C_GetAttributeValue(s, k, &a, 1) == CKR_OK) CustodyBroken("a key in custody was read");
    }
    for (CK_OBJECT_HANDLE w : wrapping_keys) {
      for (CK_MECHANISM_TYPE mech : {CKM_AES_KEY_WRAP_PAD, CKM_AES_KEY_WRAP, CKM_RSA_PKCS}) {
        CK_MECHANISM m = {mech, nullptr, 0};
        std::vector<uint8_t> out(4096);
        CK_ULONG l = out.size();
        if (C_WrapKey(s, &m, w, k, out.data(), &l) == CKR_OK) {
          CustodyBroken("a key in custody was wrapped out");
        }
      }
    }
  }
}
