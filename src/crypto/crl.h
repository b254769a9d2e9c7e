// Certificate revocation lists (RFC 5280) as the DCAP verifier reads them. CRLs are decoded by
// OpenSSL's d2i_X509_CRL: unlike a certificate a CRL carries no public key, so OpenSSL decodes it
// without its slow key decoder. Signatures and revocation are checked against crypto/x509.h Certs.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/key.h"
#include "crypto/ossl.h"
#include "crypto/x509.h"

namespace kmra::crypto {

struct Crl {
  ossl::Ptr<X509_CRL> crl;
  std::vector<uint8_t> issuer_name;  // DER of the issuer Name, as Cert::subject_name
  std::string issuer_cn;
  int64_t this_update = 0;
  int64_t next_update = 0;  // 0 when absent
};

// Parses a DER CRL. InvalidArgument when it does not parse exactly ("<what> is not a DER CRL").
Result<Crl> ParseCrl(std::span<const uint8_t> der, std::string_view what);

// Empty when the CRL carries what Intel's CRL profile requires: one CRL Number and one Authority
// Key Identifier (with a key identifier) extension, both decodable. Otherwise what is wrong.
std::string CrlProfileProblem(const Crl& crl);

// True when `issuer` is named as the CRL's issuer (DER names equal byte for byte).
inline bool CrlIssuedBy(const Crl& crl, const Cert& issuer) {
  return crl.issuer_name == issuer.subject_name;
}

// True when the CRL's signature verifies with `issuer_key`.
bool CrlSignedBy(const Crl& crl, const PublicKey& issuer_key);

// True when the CRL lists the certificate's serial number.
bool Revoked(const Crl& crl, const Cert& cert);

}  // namespace kmra::crypto
