// Issues X.509 certificates and CRLs shaped like Intel's SGX PKI profile (and plain TLS ones):
// ECDSA with SHA-256, extensions in Intel's order (AKI, CRL DP, SKI, KU, BC, SGX extension).
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "crypto/ossl.h"

namespace kmra::enclave::pki {

// A distinguished name in order, e.g. {{"CN", "..."}, {"O", "..."}, {"C", "US"}}. C is encoded
// as PrintableString, everything else as UTF8String (as in Intel's certificates).
using Name = std::vector<std::pair<std::string, std::string>>;

struct CertSpec {
  Name subject;
  EVP_PKEY* subject_key = nullptr;  // its public half goes into the certificate
  X509* issuer = nullptr;           // nullptr: self-signed with issuer_key == subject_key
  EVP_PKEY* issuer_key = nullptr;
  int64_t not_before = 0;
  int64_t not_after = 0;
  bool ca = false;
  int path_len = -1;                 // CA only; -1 leaves pathlen out
  std::string key_usage;             // OpenSSL syntax without "critical,", e.g. "keyCertSign,cRLSign"
  std::string ext_key_usage;         // e.g. "serverAuth,clientAuth"; empty leaves it out
  std::vector<std::string> san;      // "DNS:localhost", "IP:127.0.0.1"
  std::string crl_distribution_point;  // a URI; empty leaves it out
  std::vector<std::uint8_t> sgx_extension;  // DER of the SGX extension value; empty leaves it out
  bool authority_key_id = true;
};

// Issues the certificate with a random 20-byte serial. Errors carry OpenSSL's reason.
Result<ossl::Ptr<X509>> IssueCertificate(const CertSpec& spec);

struct CrlSpec {
  X509* issuer = nullptr;
  EVP_PKEY* issuer_key = nullptr;
  int64_t this_update = 0;
  int64_t next_update = 0;
  long crl_number = 1;
  std::vector<X509*> revoked;  // revoked at this_update
};

// A v2 CRL with the CRL Number and Authority Key Identifier extensions (QVL requires both).
Result<ossl::Ptr<X509_CRL>> IssueCrl(const CrlSpec& spec);

std::string CertPem(X509* cert);
std::string CrlPem(X509_CRL* crl);
std::vector<std::uint8_t> CrlDer(X509_CRL* crl);
// PKCS#8 PEM of a private key, in wiping memory.
SecretBytes PrivateKeyPem(EVP_PKEY* key);

}  // namespace kmra::enclave::pki
