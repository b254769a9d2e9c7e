// libFuzzer target for the token's C ABI: random sequences of calls with random templates,
// attribute types and lengths, mechanisms and mechanism parameters, against a token with an RSA,
// an EC and an AES key. Any crash, sanitizer report or leak is a bug; any CK_RV is fine.
#include <p11-kit/pkcs11.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "enclave/platform.h"
#include "kmra/pkcs11_vendor.h"
#include "token/module.h"

namespace {

// A fixed sealing key and quotes that carry the report data: the fuzzer needs no platform files.
class FuzzPlatform : public kmra::enclave::Platform {
 public:
  kmra::Result<std::vector<uint8_t>> Quote(std::span<const uint8_t, 64> rd) override {
    return std::vector<uint8_t>(rd.begin(), rd.end());
  }
  kmra::Result<kmra::SecretBytes> SealingKey() override { return kmra::SecretBytes(32); }
  kmra::enclave::PlatformIdentity Identity() const override { return {}; }
};

class Input {
 public:
  Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool empty() const { return pos_ >= n_; }
  uint8_t Byte() { return pos_ < n_ ? d_[pos_++] : 0; }
  CK_ULONG Ulong() {
    CK_ULONG v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | Byte();
    return v;
  }
  std::vector<uint8_t> Bytes(size_t max) {
    size_t len = std::min<size_t>(Byte() % (max + 1), n_ - std::min(pos_, n_));
    std::vector<uint8_t> v(d_ + pos_, d_ + pos_ + len);
    pos_ += len;
    return v;
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
};

CK_SESSION_HANDLE g_session = 0;
std::vector<CK_OBJECT_HANDLE> g_keys;

constexpr CK_ATTRIBUTE_TYPE kTypes[] = {
    CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_VALUE, CKA_KEY_TYPE, CKA_ID, CKA_SENSITIVE,
    CKA_EXTRACTABLE, CKA_SIGN, CKA_VERIFY, CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP,
    CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_EC_PARAMS,
    CKA_EC_POINT, CKA_VALUE_LEN, CKA_CERTIFICATE_TYPE, CKA_LOCAL, CKA_PRIME_1, 0x80001234UL};
constexpr CK_MECHANISM_TYPE kMechs[] = {
    CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS, CKM_ECDSA, CKM_ECDSA_SHA256, CKM_AES_GCM, CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_PAD, CKM_SHA256, CKM_SHA_1, CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY,
    CKM_EC_KEY_PAIR_GEN, CKM_AES_KEY_GEN, CKM_MD5};

// A template of random attributes whose values live in `store`.
std::vector<CK_ATTRIBUTE> Template(Input& in, std::vector<std::vector<uint8_t>>& store) {
  std::vector<CK_ATTRIBUTE> t(in.Byte() % 8);
  store.resize(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    uint8_t sel = in.Byte();
    t[i].type = kTypes[sel % (sizeof kTypes / sizeof kTypes[0])];
    store[i] = in.Bytes(sel & 0x80 ? 64 : 8);
    t[i].pValue = store[i].empty() ? nullptr : store[i].data();
    t[i].ulValueLen = store[i].size();
  }
  return t;
}

CK_MECHANISM Mechanism(Input& in, std::vector<uint8_t>& param) {
  CK_MECHANISM m{kMechs[in.Byte() % (sizeof kMechs / sizeof kMechs[0])], nullptr, 0};
  // Structures with pointers (OAEP source, GCM IV/AAD) get pointers into `param` or NULL.
  param = in.Bytes(96);
  if (param.size() >= sizeof(CK_GCM_PARAMS) && (in.Byte() & 1)) {
    // Point embedded pointers at the tail of the buffer so they stay valid.
    uint8_t* tail = param.data() + param.size() - 8;
    if (m.mechanism == CKM_AES_GCM) {
      auto* g = reinterpret_cast<CK_GCM_PARAMS*>(param.data());
      g->pIv = tail;
      g->ulIvLen %= 9;
      g->pAAD = tail;
      g->ulAADLen %= 9;
    } else if (m.mechanism == CKM_RSA_PKCS_OAEP) {
      auto* o = reinterpret_cast<CK_RSA_PKCS_OAEP_PARAMS*>(param.data());
      o->pSourceData = tail;
      o->ulSourceDataLen %= 9;
    }
  } else if (m.mechanism == CKM_RSA_PKCS_OAEP || m.mechanism == CKM_AES_GCM) {
    param.clear();  // never hand the module a structure with wild pointers
  }
  m.pParameter = param.empty() ? nullptr : param.data();
  m.ulParameterLen = param.size();
  return m;
}

CK_OBJECT_HANDLE Key(Input& in) {
  uint8_t b = in.Byte();
  if (b == 0xff) return 0xdeadbeef;
  return g_keys.empty() ? 0 : g_keys[b % g_keys.size()];
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static std::string dir = [] {
    char tmpl[] = "/tmp/kmra-token-fuzz-XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  std::ofstream(dir + "/token.conf") << "token_dir = \"" << dir << "/store\"\nplatform = \"sim\"\n"
                                     << "platform_dir = \"" << dir << "\"\n";
  setenv("KMRA_TOKEN_CONF", (dir + "/token.conf").c_str(), 1);
  setenv("KMRA_TOKEN_QUIET", "1", 1);
  kmra::token::SetPlatformOpenerForTesting([](const kmra::token::TokenConfig&, const std::string&)
      -> kmra::Result<std::unique_ptr<kmra::enclave::Platform>> {
    return std::unique_ptr<kmra::enclave::Platform>(new FuzzPlatform());
  });
  C_Initialize(nullptr);
  char label[32];
  std::memset(label, ' ', sizeof label);
  CK_UTF8CHAR so[] = "sopin", pin[] = "userpin";
  C_InitToken(0, so, 5, reinterpret_cast<CK_UTF8CHAR_PTR>(label));
  CK_SESSION_HANDLE s;
  C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s);
  C_Login(s, CKU_SO, so, 5);
  C_InitPIN(s, pin, 7);
  C_Logout(s);
  C_Login(s, CKU_USER, pin, 7);
  g_session = s;
  // Session keys: RSA-2048, P-256, AES-256.
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG bits = 2048, len = 32;
  uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_ATTRIBUTE rsa_pub[] = {{CKA_MODULUS_BITS, &bits, sizeof bits}, {CKA_TOKEN, &no, 1}};
  CK_ATTRIBUTE ec_pub[] = {{CKA_EC_PARAMS, p256, sizeof p256}, {CKA_TOKEN, &no, 1}};
  CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1}, {CKA_EXTRACTABLE, &yes, 1}};
  CK_MECHANISM rsa_gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_MECHANISM ec_gen = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_MECHANISM aes_gen = {CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE a, b;
  if (C_GenerateKeyPair(s, &rsa_gen, rsa_pub, 2, priv, 2, &a, &b) == CKR_OK) g_keys.insert(g_keys.end(), {a, b});
  if (C_GenerateKeyPair(s, &ec_gen, ec_pub, 2, priv, 2, &a, &b) == CKR_OK) g_keys.insert(g_keys.end(), {a, b});
  CK_ATTRIBUTE aes[] = {{CKA_VALUE_LEN, &len, sizeof len}, {CKA_TOKEN, &no, 1}, {CKA_EXTRACTABLE, &yes, 1}};
  if (C_GenerateKey(s, &aes_gen, aes, 3, &a) == CKR_OK) g_keys.push_back(a);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  std::vector<CK_OBJECT_HANDLE> created;
  const CK_SESSION_HANDLE s = g_session;
  for (int step = 0; step < 16 && !in.empty(); ++step) {
    std::vector<std::vector<uint8_t>> store;
    std::vector<uint8_t> param;
    std::vector<uint8_t> buf(in.Byte() % 2 ? 8 : 1024);
    CK_ULONG len = buf.size();
    switch (in.Byte() % 10) {
      case 0: {  // create (session objects only: the store's disk writes are not the target)
        auto t = Template(in, store);
        for (auto& a : t) {
          if (a.type == CKA_TOKEN) a.type = CKA_LABEL;
        }
        CK_OBJECT_HANDLE h;
        if (C_CreateObject(s, t.data(), t.size(), &h) == CKR_OK) created.push_back(h);
        break;
      }
      case 1: {  // get attributes with random lengths and NULL buffers
        auto t = Template(in, store);
        C_GetAttributeValue(s, Key(in), t.data(), t.size());
        break;
      }
      case 2: {
        auto t = Template(in, store);
        for (auto& a : t) {
          if (a.type == CKA_TOKEN) a.type = CKA_ID;
        }
        C_SetAttributeValue(s, Key(in), t.data(), t.size());
        break;
      }
      case 3: {
        auto t = Template(in, store);
        if (C_FindObjectsInit(s, t.data(), t.size()) == CKR_OK) {
          CK_OBJECT_HANDLE hs[4];
          CK_ULONG n;
          C_FindObjects(s, hs, 4, &n);
          C_FindObjectsFinal(s);
        }
        break;
      }
      case 4: {
        CK_MECHANISM m = Mechanism(in, param);
        auto d = in.Bytes(80);
        if (C_SignInit(s, &m, Key(in)) == CKR_OK) {
          len = buf.size();
          if (C_Sign(s, d.data(), d.size(), in.Byte() & 1 ? nullptr : buf.data(), &len) == CKR_OK) {
            len = buf.size();
            C_Sign(s, d.data(), d.size(), buf.data(), &len);
          }
        }
        break;
      }
      case 5: {
        CK_MECHANISM m = Mechanism(in, param);
        auto d = in.Bytes(255);
        auto sig = in.Bytes(255);
        if (C_VerifyInit(s, &m, Key(in)) == CKR_OK) C_Verify(s, d.data(), d.size(), sig.data(), sig.size());
        break;
      }
      case 6: {
        CK_MECHANISM m = Mechanism(in, param);
        auto d = in.Bytes(255);
        const bool enc = in.Byte() & 1;
        CK_RV rv = enc ? C_EncryptInit(s, &m, Key(in)) : C_DecryptInit(s, &m, Key(in));
        if (rv == CKR_OK) {
          len = buf.size();
          rv = enc ? C_Encrypt(s, d.data(), d.size(), buf.data(), &len)
                   : C_Decrypt(s, d.data(), d.size(), buf.data(), &len);
          if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_OK) {
            std::vector<uint8_t> big(4096);
            CK_ULONG l2 = big.size();
            enc ? C_Encrypt(s, d.data(), d.size(), big.data(), &l2)
                : C_Decrypt(s, d.data(), d.size(), big.data(), &l2);
          }
        }
        break;
      }
      case 7: {
        CK_MECHANISM m = Mechanism(in, param);
        len = buf.size();
        C_WrapKey(s, &m, in.Byte() & 1 ? 0 : Key(in), Key(in), in.Byte() & 1 ? nullptr : buf.data(),
                  &len);
        break;
      }
      case 8: {
        CK_MECHANISM m = Mechanism(in, param);
        auto wrapped = in.Bytes(255);
        auto t = Template(in, store);
        for (auto& a : t) {
          if (a.type == CKA_TOKEN) a.type = CKA_LABEL;
        }
        CK_OBJECT_HANDLE h;
        if (C_UnwrapKey(s, &m, Key(in), wrapped.data(), wrapped.size(), t.data(), t.size(), &h) ==
            CKR_OK) {
          created.push_back(h);
        }
        break;
      }
      case 9: {
        CK_MECHANISM m = Mechanism(in, param);
        auto d = in.Bytes(64);
        if (C_DigestInit(s, &m) == CKR_OK) {
          C_DigestUpdate(s, d.data(), d.size());
          len = buf.size();
          C_DigestFinal(s, in.Byte() & 1 ? nullptr : buf.data(), &len);
          len = buf.size();  // the caller states its real buffer size again after a length query
          C_DigestFinal(s, buf.data(), &len);
        }
        break;
      }
    }
  }
  // End any operation left open and drop what this input created.
  for (auto h : created) C_DestroyObject(s, h);
  std::vector<uint8_t> big(4096);
  CK_ULONG l = big.size();
  C_Sign(s, nullptr, 0, big.data(), &l);
  l = big.size();
  C_Encrypt(s, nullptr, 0, big.data(), &l);
  l = big.size();
  C_Decrypt(s, nullptr, 0, big.data(), &l);
  l = big.size();
  C_DigestFinal(s, big.data(), &l);
  C_VerifyFinal(s, nullptr, 0);
  C_FindObjectsFinal(s);
  return 0;
}
