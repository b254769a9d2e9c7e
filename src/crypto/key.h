// Asymmetric keys (RSA, EC P-256/P-384) on OpenSSL 3: parsing, encoding, generation lives in rsa.h
// and ec.h. Both classes share the underlying refcounted EVP_PKEY on copy; using one key from many
// threads at once (sign, verify, encrypt, decrypt) is safe.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/ossl.h"

namespace kmra::crypto {

enum class KeyType { kRsa, kEc, kOther };

// "RSA", "EC", "other".
std::string_view KeyTypeName(KeyType type);

class PublicKey {
 public:
  // DER SubjectPublicKeyInfo (RFC 5280). InvalidArgument for malformed or trailing bytes.
  static Result<PublicKey> FromSpkiDer(std::span<const uint8_t> der);
  // PEM "PUBLIC KEY" (SPKI) or "RSA PUBLIC KEY" (PKCS#1).
  static Result<PublicKey> FromPem(std::string_view pem);
  // Takes ownership of `pkey` (must not be null).
  static PublicKey Adopt(ossl::Ptr<EVP_PKEY> pkey) { return PublicKey(std::move(pkey)); }
  // Another reference to `pkey` (must not be null; the caller keeps its own). A private key's
  // EVP_PKEY serves as its public key too.
  static PublicKey Share(EVP_PKEY* pkey);

  PublicKey(const PublicKey& other);
  PublicKey& operator=(const PublicKey& other);
  PublicKey(PublicKey&&) noexcept = default;
  PublicKey& operator=(PublicKey&&) noexcept = default;

  KeyType type() const;
  // Modulus bits for RSA, field bits for EC.
  int bits() const;
  Result<std::vector<uint8_t>> ToSpkiDer() const;
  Result<std::string> ToPem() const;
  // Same key material (type and public values).
  bool Equals(const PublicKey& other) const;
  EVP_PKEY* get() const { return pkey_.get(); }

 private:
  explicit PublicKey(ossl::Ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  ossl::Ptr<EVP_PKEY> pkey_;
};

class PrivateKey {
 public:
  // DER PKCS#8 PrivateKeyInfo (unencrypted) or a traditional RSA/EC private key.
  static Result<PrivateKey> FromDer(std::span<const uint8_t> der);
  // PEM "PRIVATE KEY", "RSA PRIVATE KEY" or "EC PRIVATE KEY". Text without a "-----BEGIN" line
  // and encrypted PEM are refused, each with its own message (never prompts for a password).
  // The PEM is read in place: this function makes no copy of it.
  static Result<PrivateKey> FromPem(std::string_view pem);
  // PEM or DER, detected from the content.
  static Result<PrivateKey> Parse(std::span<const uint8_t> bytes);
  static PrivateKey Adopt(ossl::Ptr<EVP_PKEY> pkey) { return PrivateKey(std::move(pkey)); }
  // Another reference to `pkey` (must not be null; the caller keeps its own).
  static PrivateKey Share(EVP_PKEY* pkey);

  PrivateKey(const PrivateKey& other);
  PrivateKey& operator=(const PrivateKey& other);
  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;

  KeyType type() const;
  int bits() const;
  // DER PKCS#8 PrivateKeyInfo, unencrypted, in wiping memory.
  Result<SecretBytes> ToPkcs8Der() const;
  // PEM "PRIVATE KEY", in wiping memory.
  Result<SecretBytes> ToPkcs8Pem() const;
  // The public half (a separate key object without private material).
  Result<crypto::PublicKey> PublicKey() const;
  EVP_PKEY* get() const { return pkey_.get(); }

 private:
  explicit PrivateKey(ossl::Ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  ossl::Ptr<EVP_PKEY> pkey_;
};

namespace internal {
KeyType TypeOf(const EVP_PKEY* pkey);
// Returns an error naming `what` unless `pkey` is of `want`.
Status RequireType(const EVP_PKEY* pkey, KeyType want, std::string_view what);
}  // namespace internal

}  // namespace kmra::crypto
