// libFuzzer target for the token's C ABI: random sequences of calls with random templates,
// attribute types and lengths, mechanisms and mechanism parameters, against a token with an RSA,
// an EC and an AES key, plus key releases (quote key pairs with random templates, quotes, and the
// key server's real wrappedSWK / wrappedKey). Any crash, sanitizer report or leak is a bug; any
// CK_RV is fine, except what the custody oracle catches: no byte of a released key or an SWK is
// ever read or wrapped out, and no quoted key or SWK starts an operation or leaves by C_WrapKey.
#include <p11-kit/pkcs11.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "custody_oracle.h"
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
std::vector<CK_OBJECT_HANDLE> g_handles;  // g_keys and what the current input made

constexpr CK_ATTRIBUTE_TYPE kTypes[] = {CKA_CLASS,
                                        CKA_TOKEN,
                                        CKA_PRIVATE,
                                        CKA_LABEL,
                                        CKA_VALUE,
                                        CKA_KEY_TYPE,
                                        CKA_ID,
                                        CKA_SENSITIVE,
                                        CKA_EXTRACTABLE,
                                        CKA_SIGN,
                                        CKA_VERIFY,
                                        CKA_ENCRYPT,
                                        CKA_DECRYPT,
                                        CKA_WRAP,
                                        CKA_UNWRAP,
                                        CKA_MODULUS,
                                        CKA_MODULUS_BITS,
                                        CKA_PUBLIC_EXPONENT,
                                        CKA_PRIVATE_EXPONENT,
                                        CKA_EC_PARAMS,
                                        CKA_EC_POINT,
                                        CKA_VALUE_LEN,
                                        CKA_CERTIFICATE_TYPE,
                                        CKA_LOCAL,
                                        CKA_PRIME_1,
                                        0x80001234UL};
constexpr CK_MECHANISM_TYPE kMechs[] = {CKM_RSA_PKCS,
                                        CKM_RSA_X_509,
                                        CKM_RSA_PKCS_OAEP,
                                        CKM_RSA_PKCS_PSS,
                                        CKM_SHA256_RSA_PKCS_PSS,
                                        CKM_SHA384_RSA_PKCS,
                                        CKM_ECDSA,
                                        CKM_ECDSA_SHA256,
                                        CKM_AES_GCM,
                                        CKM_AES_KEY_WRAP,
                                        CKM_AES_KEY_WRAP_PAD,
                                        CKM_SHA256,
                                        CKM_SHA_1,
                                        CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY,
                                        CKM_EC_KEY_PAIR_GEN,
                                        CKM_AES_KEY_GEN,
                                        CKM_MD5};

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
  return g_handles.empty() ? 0 : g_handles[b % g_handles.size()];
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
  kmra::token::SetPlatformOpenerForTesting(
      [](const kmra::token::TokenConfig&,
         const std::string&) -> kmra::Result<std::unique_ptr<kmra::enclave::Platform>> {
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
  if (C_GenerateKeyPair(s, &rsa_gen, rsa_pub, 2, priv, 2, &a, &b) == CKR_OK)
    g_keys.insert(g_keys.end(), {a, b});
  if (C_GenerateKeyPair(s, &ec_gen, ec_pub, 2, priv, 2, &a, &b) == CKR_OK)
    g_keys.insert(g_keys.end(), {a, b});
  CK_ATTRIBUTE aes[] = {
      {CKA_VALUE_LEN, &len, sizeof len}, {CKA_TOKEN, &no, 1}, {CKA_EXTRACTABLE, &yes, 1}};
  if (C_GenerateKey(s, &aes_gen, aes, 3, &a) == CKR_OK) g_keys.push_back(a);
  InitCustody();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  std::vector<CK_OBJECT_HANDLE> created;
  const CK_SESSION_HANDLE s = g_session;
  g_handles = g_keys;
  Custody& c = g_custody;
  ResetCustody();
  auto add = [&](CK_OBJECT_HANDLE h) {
    created.push_back(h);
    g_handles.push_back(h);
  };
  // An unwrap whose result the oracle follows: what a quoted key unwraps is an SWK, what an SWK
  // unwraps is a released key.
  auto unwrap = [&](CK_MECHANISM& m, CK_OBJECT_HANDLE uk, std::vector<uint8_t>& wrapped,
                    std::vector<CK_ATTRIBUTE>& t) {
    CK_OBJECT_HANDLE h;
    if (C_UnwrapKey(s, &m, uk, wrapped.data(), wrapped.size(), t.data(), t.size(), &h) != CKR_OK) {
      return;
    }
    add(h);
    if (c.quoted.count(uk)) c.swks.insert(h);
    if (c.swks.count(uk)) c.released.insert(h);
  };
  for (int step = 0; step < 16 && !in.empty(); ++step) {
    std::vector<std::vector<uint8_t>> store;
    std::vector<uint8_t> param;
    std::vector<uint8_t> buf(in.Byte() % 2 ? 8 : 1024);
    CK_ULONG len = buf.size();
    // Op bytes below 230 keep the meaning the seed corpus was made with; the rest are releases.
    const uint8_t op = in.Byte();
    switch (op < 230 ? op % 10 : 10 + op % 3) {
      case 0: {  // create (session objects only: the store's disk writes are not the target)
        auto t = Template(in, store);
        for (auto& a : t) {
          if (a.type == CKA_TOKEN) a.type = CKA_LABEL;
        }
        CK_OBJECT_HANDLE h;
        if (C_CreateObject(s, t.data(), t.size(), &h) == CKR_OK) add(h);
        break;
      }
      case 1: {  // get attributes with random lengths and NULL buffers
        auto t = Template(in, store);
        const CK_OBJECT_HANDLE k = Key(in);
        C_GetAttributeValue(s, k, t.data(), t.size());
        for (auto& a : t) {
          if (a.pValue == nullptr || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) continue;
          CheckOutput(static_cast<uint8_t*>(a.pValue), a.ulValueLen);
          if (InCustody(k) && a.ulValueLen > 0 &&
              (a.type == CKA_VALUE || a.type == CKA_PRIVATE_EXPONENT || a.type == CKA_PRIME_1)) {
            CustodyBroken("a secret component of a key in custody was read");
          }
        }
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
        const CK_OBJECT_HANDLE k = Key(in);
        if (C_SignInit(s, &m, k) == CKR_OK) {
          if (c.quoted.count(k) || c.swks.count(k)) CustodyBroken("a quoted key or SWK signs");
          len = buf.size();
          if (C_Sign(s, d.data(), d.size(), in.Byte() & 1 ? nullptr : buf.data(), &len) == CKR_OK) {
            len = buf.size();
            if (C_Sign(s, d.data(), d.size(), buf.data(), &len) == CKR_OK)
              CheckOutput(buf.data(), len);
          }
        }
        break;
      }
      case 5: {
        CK_MECHANISM m = Mechanism(in, param);
        auto d = in.Bytes(255);
        auto sig = in.Bytes(255);
        if (C_VerifyInit(s, &m, Key(in)) == CKR_OK)
          C_Verify(s, d.data(), d.size(), sig.data(), sig.size());
        break;
      }
      case 6: {
        CK_MECHANISM m = Mechanism(in, param);
        auto d = in.Bytes(255);
        const bool enc = in.Byte() & 1;
        const CK_OBJECT_HANDLE k = Key(in);
        // Half the decryptions work on the real wrappedSWK, as an attacker holding it would.
        if (!enc && !c.wrapped_swk.empty() && (in.Byte() & 1)) d = c.wrapped_swk;
        CK_RV rv = enc ? C_EncryptInit(s, &m, k) : C_DecryptInit(s, &m, k);
        if (rv == CKR_OK) {
          if (c.quoted.count(k) || c.swks.count(k)) {
            CustodyBroken("a quoted key or SWK encrypts or decrypts");
          }
          len = buf.size();
          rv = enc ? C_Encrypt(s, d.data(), d.size(), buf.data(), &len)
                   : C_Decrypt(s, d.data(), d.size(), buf.data(), &len);
          if (rv == CKR_OK) CheckOutput(buf.data(), len);
          if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_OK) {
            std::vector<uint8_t> big(4096);
            CK_ULONG l2 = big.size();
            rv = enc ? C_Encrypt(s, d.data(), d.size(), big.data(), &l2)
                     : C_Decrypt(s, d.data(), d.size(), big.data(), &l2);
            if (rv == CKR_OK) CheckOutput(big.data(), l2);
          }
        }
        break;
      }
      case 7: {
        CK_MECHANISM m = Mechanism(in, param);
        len = buf.size();
        const CK_OBJECT_HANDLE wrapping = in.Byte() & 1 ? 0 : Key(in);
        const CK_OBJECT_HANDLE k = Key(in);
        uint8_t* out = in.Byte() & 1 ? nullptr : buf.data();
        if (C_WrapKey(s, &m, wrapping, k, out, &len) == CKR_OK) {
          if (InCustody(k)) CustodyBroken("a key in custody was wrapped out");
          if (out != nullptr) CheckOutput(out, len);
          if (m.mechanism == CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY) NoteQuote(k, out, len);
        }
        break;
      }
      case 8: {
        CK_MECHANISM m = Mechanism(in, param);
        auto wrapped = in.Bytes(255);
        auto t = Template(in, store);
        for (auto& a : t) {
          if (a.type == CKA_TOKEN) a.type = CKA_LABEL;
        }
        unwrap(m, Key(in), wrapped, t);
        break;
      }
      case 10: {  // a quote key pair with a random private template (session objects)
        const uint8_t f = in.Byte();
        CK_BBOOL v[6];
        for (int i = 0; i < 6; ++i) v[i] = (f >> i) & 1;
        CK_ULONG bits = 2048;
        CK_BBOOL no = CK_FALSE;
        CK_ATTRIBUTE pub[] = {{CKA_MODULUS_BITS, &bits, sizeof bits}, {CKA_TOKEN, &no, 1}};
        CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1},         {CKA_SENSITIVE, &v[0], 1},
                               {CKA_EXTRACTABLE, &v[1], 1}, {CKA_DECRYPT, &v[2], 1},
                               {CKA_SIGN, &v[3], 1},        {CKA_UNWRAP, &v[4], 1},
                               {CKA_PRIVATE, &v[5], 1}};
        CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
        CK_OBJECT_HANDLE a, b;
        if (C_GenerateKeyPair(s, &gen, pub, 2, priv, 7, &a, &b) == CKR_OK) {
          add(a);
          add(b);
          c.pairs.emplace_back(a, b);
        }
        break;
      }
      case 11: {  // a quote with well-formed parameters
        CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS qp{};
        qp.nonce[0] = in.Byte();
        CK_MECHANISM m = {CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY, &qp, sizeof qp};
        const CK_OBJECT_HANDLE k = Key(in);
        std::vector<uint8_t> out(4096);
        len = out.size();
        if (C_WrapKey(s, &m, 0, k, out.data(), &len) == CKR_OK) NoteQuote(k, out.data(), len);
        break;
      }
      case 12: {  // an unwrap of the key server's real blobs with a random template
        const uint8_t w = in.Byte();
        std::vector<uint8_t> wrapped = w % 3 == 0   ? c.wrapped_swk
                                       : w % 3 == 1 ? c.wrapped_kwp
                                                    : c.wrapped_gcm;
        if (wrapped.empty()) break;
        CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
        constexpr CK_MECHANISM_TYPE kUnwrap[] = {CKM_RSA_PKCS_OAEP, CKM_AES_KEY_WRAP_PAD,
                                                 CKM_AES_GCM, CKM_AES_KEY_WRAP, CKM_RSA_PKCS};
        CK_MECHANISM m = {kUnwrap[(w >> 2) % 5], nullptr, 0};
        if (m.mechanism == CKM_RSA_PKCS_OAEP) {
          m.pParameter = &oaep;
          m.ulParameterLen = sizeof oaep;
        }
        static CK_OBJECT_CLASS classes[] = {CKO_SECRET_KEY, CKO_PRIVATE_KEY};
        static CK_KEY_TYPE types[] = {CKK_AES, CKK_GENERIC_SECRET, CKK_EC, CKK_RSA};
        auto t = Template(in, store);
        for (auto& a : t) {
          if (a.type == CKA_TOKEN || a.type == CKA_CLASS || a.type == CKA_KEY_TYPE)
            a.type = CKA_LABEL;
        }
        const uint8_t ct = in.Byte();
        t.push_back({CKA_CLASS, &classes[ct & 1], sizeof(CK_OBJECT_CLASS)});
        t.push_back({CKA_KEY_TYPE, &types[(ct >> 1) % 4], sizeof(CK_KEY_TYPE)});
        unwrap(m, Key(in), wrapped, t);
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
  ProbeCustody(s, created, g_handles);
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
