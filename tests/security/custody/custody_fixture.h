// The host attacker of the custody suite: a process holding the token's user PIN that drives the
// real module (libkmra-pkcs11.so on the simulated SGX platform, made by `kmra pki init` and `kmra
// token init`) through its C ABI only. The key server's side of a release is played with OpenSSL
// exactly as the server does it: RSA-OAEP (SHA-1, MGF1-SHA1) of a random AES-256 SWK to the quoted
// public key, then AES-KWP (or AES-GCM, IV prefix and 128-bit tag) of the released key's PKCS#8.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <vector>

#include "crypto/ossl.h"
#include "integration/harness.h"
#include "integration/token_env.h"
#include "kmra/pkcs11_vendor.h"

namespace kmra::security {

using Bytes = std::vector<uint8_t>;

// What the quote key pair's templates ask for (the attestation template by default).
struct PairTemplate {
  CK_ULONG bits = 2048;
  bool pub_token = false;
  bool priv_token = false;
  bool sensitive = true;
  bool extractable = false;
  bool decrypt = false;
  bool sign = false;
};

struct Pair {
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
};

// The key server's answer: the secrets it wrapped and the wrapped forms.
struct Release {
  Bytes swk;                // the AES-256 SWK in clear
  ossl::Ptr<EVP_PKEY> key;  // the released private key
  Bytes key_secrets;        // its private scalar (EC) or private exponent (RSA), big-endian
  Bytes wrapped_swk;        // RSA-OAEP(SHA-1) of the SWK to the quoted key
  Bytes wrapped_key;        // AES-KWP or AES-GCM (iv || ct || tag) of the PKCS#8
};

enum class KeyKind { kRsa, kEc };
enum class Wrap { kKwp, kGcm };

class CustodyTest : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

 protected:
  void SetUp() override;
  void TearDown() override;

  static CK_FUNCTION_LIST* p11() { return p11_; }
  CK_SESSION_HANDLE session() const { return session_; }

  // Generates an RSA key pair in the token.
  CK_RV GeneratePair(const PairTemplate& t, Pair& out);
  // Quotes `pub` with the CTK mechanism; `modulus`/`exponent` get the key the quote binds.
  CK_RV Quote(CK_OBJECT_HANDLE pub, Bytes* modulus = nullptr, Bytes* exponent = nullptr);
  // The key server's side of a release to an RSA public key.
  static Release MakeRelease(const Bytes& modulus, const Bytes& exponent,
                             KeyKind kind = KeyKind::kRsa, Wrap wrap = Wrap::kKwp);
  // Unwraps a release's SWK with `priv` (RSA-OAEP SHA-1) under the template `swk_tmpl` (the KMRA
  // client's template when empty).
  CK_RV UnwrapSwk(CK_OBJECT_HANDLE priv, const Release& r, CK_OBJECT_HANDLE& swk,
                  std::vector<CK_ATTRIBUTE> swk_tmpl = {});
  // Unwraps a release's key with `swk` (CKM_AES_KEY_WRAP_PAD or CKM_AES_GCM) as a session key.
  CK_RV UnwrapReleasedKey(CK_OBJECT_HANDLE swk, const Release& r, CK_OBJECT_HANDLE& key,
                          std::vector<CK_ATTRIBUTE> key_tmpl = {}, KeyKind kind = KeyKind::kRsa,
                          Wrap wrap = Wrap::kKwp);
  // Signs with the token key and verifies with the release's public key outside the token.
  void ExpectSigns(CK_OBJECT_HANDLE key, const Release& r);
  // Quote, release, both unwraps and a signature from a fresh pair: the legitimate flow.
  void ExpectLegitReleaseWorks(KeyKind kind = KeyKind::kRsa, Wrap wrap = Wrap::kKwp);
  // The release `r` completes with the attestation key `priv`: both unwraps, a signature, the
  // attestation key and the SWK gone afterwards.
  void ExpectRedeems(CK_OBJECT_HANDLE priv, const Release& r, KeyKind kind = KeyKind::kRsa,
                     Wrap wrap = Wrap::kKwp);
  // The same from an existing pair, from the quote on.
  void ExpectReleaseWorksWith(const Pair& pair, KeyKind kind = KeyKind::kRsa,
                              Wrap wrap = Wrap::kKwp);

  // Reads one attribute: CKR_OK with the value, or the error.
  CK_RV Read(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, Bytes* value = nullptr);
  bool ReadBool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
  CK_ULONG Custody(CK_OBJECT_HANDLE h);
  CK_RV SetBool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, bool value);
  // An AES-256 key of the attacker's (known value, CKA_WRAP) made with C_CreateObject.
  CK_OBJECT_HANDLE AttackerAesKey(Bytes* value = nullptr);
  // C_WrapKey with CKM_AES_KEY_WRAP_PAD (size query then output); the wrapped bytes in `out`.
  CK_RV WrapOut(CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, Bytes* out = nullptr);
  CK_RV DecryptInit(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key);
  CK_RV SignInit(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key);

  // The module's stderr since the last call: every refusal of the custody rules is one line there.
  std::string NewLog();
  // Expects exactly one custody refusal line since the last NewLog(), containing `why`.
  void ExpectOneRefusalLine(const std::string& why);

  CK_SESSION_HANDLE session_ = 0;

 private:
  static std::unique_ptr<integration::TempDir> dir_;
  static std::unique_ptr<integration::TokenEnv> env_;
  static void* module_;
  static CK_FUNCTION_LIST* p11_;
  static std::string log_path_;
  static int saved_stderr_;
  static size_t log_pos_;
};

// True when `needle` occurs in `haystack` (needles of at least 16 bytes never match by chance).
bool Contains(const Bytes& haystack, const Bytes& needle);

}  // namespace kmra::security
