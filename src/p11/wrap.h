// The release wrap (server side) and the unwrap (token side) of the KMRA key release, ARCHITECTURE.md
// step 7 and step 9.
//
// Server, in the HSM, with a logged-in read-write session:
//   1. import cust_pub (RSA modulus/exponent) as a session object with CKA_WRAP
//   2. generate an AES-256 session wrapping key, SWK (CKA_TOKEN=false, CKA_EXTRACTABLE=true, CKA_WRAP)
//   3. C_WrapKey(CKM_AES_KEY_WRAP_PAD, SWK, private key)          -> wrapped PKCS#8 (RFC 5649)
//   4. C_WrapKey(CKM_RSA_PKCS_OAEP{hash, MGF1(hash), no label}, cust_pub, SWK) -> wrapped SWK
//   5. destroy cust_pub and SWK (also on every error path)
// The private key never exists in clear in our memory; only the HSM sees it.
//
// Token (loadkey), with a logged-in read-write session on our token:
//   C_UnwrapKey(OAEP, cust_priv, wrapped SWK) -> session AES key, then
//   C_UnwrapKey(AES_KEY_WRAP_PAD, SWK, wrapped key) -> persistent, sensitive, non-extractable private key.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "p11/keys.h"
#include "p11/session.h"

namespace kmra::p11 {

enum class OaepHash { kSha1, kSha256 };

// "sha1" / "sha256".
std::string_view OaepHashName(OaepHash hash);

// Which OAEP hashes the release wrap may use for the SWK.
enum class OaepChoice {
  kSha1,               // KMRA AppHSM API 0.2: what KMRA clients unwrap with
  kSha256,             // SHA-256 or fail
  kSha256ElseSha1,     // SHA-256 when the HSM can wrap with it, else SHA-1 (/v1)
};

// An RSA public key given as big-endian modulus and exponent (the KMRA wire form).
struct RsaPublicKey {
  std::vector<uint8_t> modulus;
  std::vector<uint8_t> exponent;
};

// Extracts modulus and exponent from a DER SubjectPublicKeyInfo; InvalidArgument when it is not RSA.
Result<RsaPublicKey> RsaPublicKeyFromSpki(std::span<const uint8_t> spki);

struct ReleaseWrapResult {
  std::vector<uint8_t> wrapped_swk;  // RSA-OAEP(cust_pub, SWK), |modulus| bytes
  std::vector<uint8_t> wrapped_key;  // AES-KWP(SWK, PKCS#8 PrivateKeyInfo)
  OaepHash oaep_hash = OaepHash::kSha1;  // what the SWK was wrapped with (MGF1 uses the same hash)
  // Mechanism names for the response: "CKM_RSA_PKCS_OAEP(SHA-256,MGF1-SHA256)", "CKM_AES_KEY_WRAP_PAD".
  std::string swk_mechanism;
  std::string key_mechanism;
};

// The server side of the release (steps 1-5 above). `private_key` must be extractable. The customer key
// must be RSA 2048..8192 bits with an odd exponent; InvalidArgument otherwise. With kSha256ElseSha1 an
// HSM that refuses OAEP SHA-256 (SoftHSM2 2.6.1 answers CKR_ARGUMENTS_BAD / CKR_MECHANISM_PARAM_INVALID)
// gets SHA-1, and the result says so.
Result<ReleaseWrapResult> WrapForRelease(Session& session, CK_OBJECT_HANDLE private_key,
                                         const RsaPublicKey& cust_pub, OaepChoice choice);

// --- token side (loadkey) ---

// A session RSA key pair for receiving the SWK (the attestation template): private with CKA_UNWRAP
// only (no CKA_DECRYPT, no CKA_SIGN), sensitive and not extractable; public with CKA_WRAP/CKA_ENCRYPT;
// both CKA_TOKEN=false. `bits` defaults to 3072 as in KMRA.
Result<KeyObjects> GenerateSessionRsaKeyPair(Session& session, int bits = 3072);

// Reads modulus and exponent of an RSA public (or private) key object.
Result<RsaPublicKey> ReadRsaPublicKey(Session& session, CK_OBJECT_HANDLE key);

// C_WrapKey with any mechanism and raw parameter bytes (e.g. the CTK quote mechanism with its
// {qlPolicy, nonce} struct). `wrapping_key` may be CK_INVALID_HANDLE.
Result<std::vector<uint8_t>> WrapWithMechanism(Session& session, CK_MECHANISM_TYPE mechanism,
                                               std::span<const uint8_t> parameter,
                                               CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key);

// Where an unwrapped key goes.
struct UnwrapTarget {
  KeyName name;
  KeyAlgorithm algorithm = KeyAlgorithm::kRsa;  // CKA_KEY_TYPE of the wrapped PKCS#8
  bool token = true;                            // persistent object
};

// The token side of the release: unwraps the SWK with `cust_priv` (OAEP with `hash`), then the PKCS#8
// key with the SWK into a private key object with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE,
// CKA_EXTRACTABLE=false, CKA_SIGN (CKA_DECRYPT for RSA), and the target's label and id. The SWK is a
// session object destroyed before returning. Returns the new private key handle.
Result<CK_OBJECT_HANDLE> UnwrapReleasedKey(Session& session, CK_OBJECT_HANDLE cust_priv, OaepHash hash,
                                           std::span<const uint8_t> wrapped_swk,
                                           std::span<const uint8_t> wrapped_key,
                                           const UnwrapTarget& target);

// Creates a CKO_PUBLIC_KEY object from a DER SubjectPublicKeyInfo (CKA_VERIFY; CKA_ENCRYPT for RSA).
Result<CK_OBJECT_HANDLE> CreatePublicKeyObject(Session& session, std::span<const uint8_t> spki,
                                               const KeyName& name, bool token = true);

// Creates a CKO_CERTIFICATE (CKC_X_509) object from a DER certificate, with CKA_SUBJECT, CKA_ISSUER,
// CKA_SERIAL_NUMBER taken from it.
Result<CK_OBJECT_HANDLE> CreateCertificateObject(Session& session, std::span<const uint8_t> der,
                                                 const KeyName& name, bool token = true);

}  // namespace kmra::p11
