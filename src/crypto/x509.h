// X.509 certificates as the DCAP verifier needs them: read straight from their DER by a strict
// reader (crypto/der.h), without OpenSSL's d2i_X509 (OpenSSL 3.0 spends ~0.1 ms decoding each
// certificate's public key through its decoder framework). The profile is the one of Intel's SGX
// PKI: X.509 v3, ecdsa-with-SHA256 signatures, P-256 public keys. Anything else, trailing bytes,
// non-minimal lengths or wrong tags are refused with a message naming what is wrong.
//
// CRLs are in crypto/crl.h. A Cert is immutable after parsing; copies share the public key object.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/key.h"

namespace kmra::crypto {

struct CertExtension {
  std::vector<uint8_t> oid;  // the OID's content bytes (DER without tag and length)
  bool critical = false;
  std::vector<uint8_t> value;  // extnValue's content: the DER of the extension's value
};

// A certificate and what the checks read from it, extracted once.
struct Cert {
  std::vector<uint8_t> der;          // the whole certificate
  std::vector<uint8_t> tbs;          // the signed bytes: the TBSCertificate encoding
  std::vector<uint8_t> serial;       // the serial's magnitude, big-endian, no sign byte
  std::string serial_hex;            // lower-case hex of `serial`
  std::vector<uint8_t> issuer_name;  // DER of the issuer Name (compared byte for byte)
  std::vector<uint8_t> subject_name;
  std::string issuer_cn;  // the first commonName's content bytes, or ""
  std::string subject_cn;
  int64_t not_before = 0;  // Unix seconds
  int64_t not_after = 0;
  std::array<uint8_t, 64> signature{};     // r || s
  std::array<uint8_t, 65> public_point{};  // 04 || X || Y on P-256
  std::optional<PublicKey> key;            // the P-256 key of `public_point`
  std::vector<CertExtension> extensions;

  // The extension with OID content bytes `oid`, or null.
  const CertExtension* Extension(std::span<const uint8_t> oid) const;
};

// Parses one DER certificate; `what` names it in errors ("<what> is not a DER certificate: ...").
Result<Cert> ParseDerCert(std::span<const uint8_t> der, std::string_view what);

// Parses every "CERTIFICATE" block of a PEM text, in order; text between blocks is ignored.
// InvalidArgument when there is none or one does not parse. A certificate byte-identical to `known`
// is a copy of it instead of being parsed again.
Result<std::vector<Cert>> ParsePemChain(std::string_view pem, std::string_view what,
                                        const Cert* known = nullptr);

// True when `cert`'s signature verifies with `issuer_key` (ECDSA P-256, SHA-256 over the TBS).
bool SignedBy(const Cert& cert, const PublicKey& issuer_key);
// True when `issuer` is named as `cert`'s issuer (the DER names compare equal byte for byte).
inline bool IssuedBy(const Cert& cert, const Cert& issuer) {
  return cert.issuer_name == issuer.subject_name;
}

// SHA-256 of the certificate's DER, upper-case hex with colons (as `openssl x509 -fingerprint`).
std::string Sha256Fingerprint(const Cert& cert);

// Name, serial, SHA-256 fingerprint and validity period, to tell two certificates apart.
std::string DescribeCert(const Cert& cert);

// Empty unless the certificates are given in reverse (each one issued the one before it, e.g.
// root first); then a message naming `what` and saying to order it leaf first.
std::string RootFirstProblem(const std::vector<Cert>& chain, std::string_view what);

namespace internal {
// Unix seconds of a DER UTCTime (tag 0x17, YYMMDDHHMMSSZ) or GeneralizedTime (0x18,
// YYYYMMDDHHMMSSZ), the two forms RFC 5280 allows; nullopt for anything else.
std::optional<int64_t> DerTimeToUnix(uint8_t tag, std::span<const uint8_t> value);
}  // namespace internal

}  // namespace kmra::crypto
