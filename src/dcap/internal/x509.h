// OpenSSL helpers for the dcap verifier: certificates with their facts read once, CRLs, raw ECDSA.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/ossl.h"

namespace kmra::dcap::internal {

// A certificate and what the checks read from it, extracted once.
struct Cert {
  ossl::Ptr<X509> x509;
  std::vector<uint8_t> der;
  std::string subject_cn;
  std::string issuer_cn;
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::string serial_hex;
};

// Parses every "CERTIFICATE" block of a PEM text, in order; text between blocks is ignored.
// InvalidArgument when there is none or one does not parse. A certificate byte-identical to `known`
// shares its parsed X509 instead of being decoded again (OpenSSL 3.0 spends ~0.1 ms decoding the
// public key of each certificate).
Result<std::vector<Cert>> ParsePemChain(std::string_view pem, std::string_view what,
                                        const Cert* known = nullptr);

// A second reference to the same certificate (X509_up_ref).
Cert ShareCert(const Cert& cert);

// Parses one DER certificate.
Result<Cert> ParseDerCert(std::span<const uint8_t> der, std::string_view what);

struct Crl {
  ossl::Ptr<X509_CRL> crl;
  std::string issuer_cn;
  int64_t this_update = 0;
  int64_t next_update = 0;  // 0 when absent
};

// Parses a DER CRL. InvalidArgument when it does not parse exactly.
Result<Crl> ParseCrl(std::span<const uint8_t> der, std::string_view what);

// Empty when the CRL carries what Intel's CRL profile requires: one CRL Number and one Authority
// Key Identifier (with a key identifier) extension, both decodable. Otherwise what is wrong.
std::string CrlProfileProblem(X509_CRL* crl);

// SHA-256 of the certificate's DER, upper-case hex with colons (as `openssl x509 -fingerprint`).
std::string Sha256Fingerprint(const Cert& cert);

// Name, serial, SHA-256 fingerprint and validity period, to tell two certificates apart.
std::string DescribeCert(const Cert& cert);

// Empty unless the certificates are given in reverse (each one issued the one before it, e.g.
// root first); then a message naming `what` and saying to order it leaf first.
std::string RootFirstProblem(const std::vector<Cert>& chain, std::string_view what);

// Unix seconds of an ASN1_TIME; 0 when unreadable.
int64_t ToUnix(const ASN1_TIME* t);

// The commonName of a name, or "".
std::string CommonName(const X509_NAME* name);

// True when `cert` is signed by `issuer_key`.
bool SignedBy(X509* cert, EVP_PKEY* issuer_key);
bool CrlSignedBy(X509_CRL* crl, EVP_PKEY* issuer_key);

// True when the CRL lists the certificate's serial number.
bool Revoked(X509_CRL* crl, X509* cert);

// ECDSA-P256-SHA256 verification of a raw r || s signature over `message` with a certificate's
// key (crypto::EcdsaVerifyRaw, the one implementation).
bool VerifyRawEcdsa(EVP_PKEY* key, std::span<const uint8_t> message,
                    std::span<const uint8_t, 64> signature);

}  // namespace kmra::dcap::internal
