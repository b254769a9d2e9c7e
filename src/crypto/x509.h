// X.509 certificates and CRLs (RFC 5280) on OpenSSL 3: parsing PEM/DER, chains, and chain
// verification against one pinned root with CRLs at an explicit time.
//
// Certificate and Crl share the underlying refcounted OpenSSL object on copy; they are immutable
// after parsing and safe to use from many threads.
#pragma once

#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/key.h"
#include "crypto/ossl.h"

namespace kmra::crypto {

class Certificate {
 public:
  // One DER certificate; trailing bytes are rejected.
  static Result<Certificate> FromDer(std::span<const uint8_t> der);
  // The first "CERTIFICATE" block of a PEM text.
  static Result<Certificate> FromPem(std::string_view pem);
  // PEM or DER, detected from the content.
  static Result<Certificate> Parse(std::span<const uint8_t> bytes);
  // Every "CERTIFICATE" block of a PEM text, in order. InvalidArgument when there is none or one
  // is malformed (naming which).
  static Result<std::vector<Certificate>> ParsePemChain(std::string_view pem);
  static Certificate Adopt(ossl::Ptr<X509> x509) { return Certificate(std::move(x509)); }

  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;

  // RFC 2253 escaping, in the certificate's RDN order: "CN=Intel SGX Root CA,O=Intel
  // Corporation,L=Santa Clara,ST=CA,C=US" for Intel's root.
  std::string Subject() const;
  std::string Issuer() const;
  // The subject's (last) commonName, or "" when it has none.
  std::string SubjectCommonName() const;
  // The serial number as big-endian bytes without leading zeros (at least one byte).
  std::vector<uint8_t> Serial() const;
  int64_t NotBefore() const;
  int64_t NotAfter() const;
  Result<crypto::PublicKey> PublicKey() const;
  // basicConstraints cA=TRUE.
  bool IsCa() const;
  // Subject equals issuer and the certificate's signature verifies with its own key.
  bool IsSelfSigned() const;
  // The extnValue content (the DER of the extension's value) of the extension with dotted `oid`,
  // e.g. "1.2.840.113741.1.13.1" for the SGX PCK extension. NotFound when absent.
  Result<std::vector<uint8_t>> Extension(std::string_view oid) const;
  // OkStatus when `issuer_key` verifies this certificate's signature, Unauthenticated otherwise.
  Status VerifySignedBy(const crypto::PublicKey& issuer_key) const;

  std::vector<uint8_t> ToDer() const;
  std::string ToPem() const;
  std::array<uint8_t, 32> Sha256Fingerprint() const;
  // Byte-for-byte equality of the DER encodings.
  bool operator==(const Certificate& other) const;

  X509* get() const { return x509_.get(); }

 private:
  explicit Certificate(ossl::Ptr<X509> x509) : x509_(std::move(x509)) {}
  ossl::Ptr<X509> x509_;
};

class Crl {
 public:
  static Result<Crl> FromDer(std::span<const uint8_t> der);
  static Result<Crl> FromPem(std::string_view pem);
  // PEM or DER, detected from the content.
  static Result<Crl> Parse(std::span<const uint8_t> bytes);

  Crl(const Crl& other);
  Crl& operator=(const Crl& other);
  Crl(Crl&&) noexcept = default;
  Crl& operator=(Crl&&) noexcept = default;

  std::string Issuer() const;
  int64_t ThisUpdate() const;
  // Absent in some CRLs.
  std::optional<int64_t> NextUpdate() const;
  // True when `cert`'s serial is listed (the issuer is not checked here; VerifyChain does that).
  bool IsRevoked(const Certificate& cert) const;
  // Serial numbers of the revoked certificates (big-endian bytes, no leading zeros).
  std::vector<std::vector<uint8_t>> RevokedSerials() const;
  Status VerifySignedBy(const crypto::PublicKey& issuer_key) const;
  std::vector<uint8_t> ToDer() const;

  X509_CRL* get() const { return crl_.get(); }

 private:
  explicit Crl(ossl::Ptr<X509_CRL> crl) : crl_(std::move(crl)) {}
  ossl::Ptr<X509_CRL> crl_;
};

// Which check of a chain verification failed.
enum class ChainCheck {
  kOk,
  kExpired,          // a certificate's notAfter is before the verification time
  kNotYetValid,      // a certificate's notBefore is after the verification time
  kRevoked,          // a certificate is listed in its issuer's CRL
  kUntrusted,        // the chain does not lead to the pinned root
  kBadSignature,     // a certificate's signature does not verify with its issuer's key
  kCrlMissing,       // no CRL from an issuer whose certificates must be checked
  kCrlExpired,       // a CRL's nextUpdate is before the verification time
  kCrlNotYetValid,   // a CRL's thisUpdate is after the verification time
  kCrlBadSignature,  // a CRL's signature does not verify with its issuer's key
  kNotCa,            // an issuing certificate is not a CA or exceeds its path length
  kInvalid,          // anything else (malformed extension, unsupported critical extension ...)
};

// Stable lower-case names: "ok", "expired", "not_yet_valid", "revoked", "untrusted",
// "bad_signature", "crl_missing", "crl_expired", "crl_not_yet_valid", "crl_bad_signature",
// "not_ca", "invalid".
std::string_view ChainCheckName(ChainCheck check);

enum class CrlPolicy {
  kNone,  // do not check revocation
  kLeaf,  // the leaf's issuer must supply a CRL
  kAll,   // every issuer in the chain must supply a CRL (the pinned root's CRL covers the CAs)
};

struct ChainOptions {
  int64_t at_unix = 0;  // the verification time; certificates and CRLs are judged at it
  CrlPolicy crl_policy = CrlPolicy::kAll;
};

// The verdict of a chain verification. On failure, `depth` is the position of the certificate
// the failure concerns (0 = leaf), `subject` its subject, and `message` says what was expected
// and what was found, e.g. "certificate 'CN=Intel SGX PCK Certificate,...' (depth 0) expired at
// 2025-01-01T00:00:00Z; verification time 2025-06-01T00:00:00Z".
struct ChainVerification {
  ChainCheck check = ChainCheck::kOk;
  int depth = -1;
  std::string subject;
  std::string message;
  bool ok() const { return check == ChainCheck::kOk; }
};

// Verifies `leaf` up to `root`, the only trust anchor, using `intermediates` (in any order; a copy
// of the root among them is allowed) and `crls`. The chain must end at a certificate byte-identical
// to `root`.
ChainVerification VerifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                              const Certificate& root, std::span<const Crl> crls,
                              const ChainOptions& options);

namespace internal {
// Unix seconds of an ASN1_TIME (UTCTime or GeneralizedTime).
int64_t Asn1TimeToUnix(const ASN1_TIME* t);
}  // namespace internal

}  // namespace kmra::crypto
