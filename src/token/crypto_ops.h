// Cryptographic operations of a session (sign, verify, encrypt, decrypt, digest): mechanism and
// parameter checks at Init, then single-part or multi-part processing with OpenSSL.
// An Operation belongs to one session; the module serialises access.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <span>
#include <vector>

#include "base/secret_bytes.h"
#include "crypto/ossl.h"
#include "crypto/rsa.h"
#include "token/object.h"

namespace kmra::token {

enum class OpKind { kSign, kVerify, kEncrypt, kDecrypt, kDigest };

struct Operation {
  OpKind kind = OpKind::kDigest;
  CK_MECHANISM_TYPE mech = 0;
  std::shared_ptr<EVP_PKEY> pkey;  // asymmetric key
  SecretBytes key;                 // AES key (GCM)
  const EVP_MD* md = nullptr;      // hash of hash-and-sign mechanisms and digests
  crypto::OaepParams oaep;         // CKM_RSA_PKCS_OAEP (CK_RSA_PKCS_OAEP_PARAMS)
  crypto::PssParams pss;           // the PSS mechanisms (CK_RSA_PKCS_PSS_PARAMS)
  std::vector<uint8_t> iv, aad;    // GCM
  size_t tag_bytes = 16;
  ossl::Ptr<EVP_MD_CTX> md_ctx;  // hash-and-sign and digest state
  SecretBytes data;              // accumulated input of single-part mechanisms
  bool multipart = false;        // an Update was made (single-part calls then fail)
  // Digests: a C_Digest asked for the length (or had too small a buffer), so only C_Digest may
  // finish the operation (§5.2).
  bool single = false;
};

// Prepares `op` for `kind` with mechanism `m` and key `key` (null for digests). Returns
// CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_KEY_TYPE_INCONSISTENT,
// CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_SIZE_RANGE or CKR_OK.
CK_RV InitOperation(OpKind kind, const CK_MECHANISM& m, const Object* key, Operation& op);

// Upper bound of the output of the operation for `in_len` input bytes (signature, ciphertext,
// plaintext or digest length).
size_t OutputBound(const Operation& op, size_t in_len);

// Adds input of a multi-part operation.
CK_RV UpdateOperation(Operation& op, std::span<const uint8_t> in);

// Finishes a sign, encrypt, decrypt or digest operation over `in` plus all Update input.
// The output is in `out` (SecretBytes: decryptions are secret).
CK_RV FinishOperation(Operation& op, std::span<const uint8_t> in, SecretBytes& out);

// Finishes a verify operation over `in` plus all Update input against `signature`:
// CKR_OK, CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE.
CK_RV FinishVerify(Operation& op, std::span<const uint8_t> in, std::span<const uint8_t> signature);

// RSA-OAEP (crypto/rsa.h) / PKCS#1 v1.5 / raw encryption and decryption with an asymmetric key,
// shared with the wrap mechanisms.
CK_RV RsaEncrypt(Operation& op, std::span<const uint8_t> in, SecretBytes& out);
CK_RV RsaDecrypt(Operation& op, std::span<const uint8_t> in, SecretBytes& out);

}  // namespace kmra::token
