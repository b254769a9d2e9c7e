// PKCS#10 certificate signing requests signed inside the HSM (C_Sign), for keys generated there.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "p11/keys.h"
#include "p11/session.h"

namespace kmra::p11 {

struct CsrRequest {
  // Distinguished name, "CN=www.example.com,O=Example,C=DE" (also "/CN=.../O=..."); CN required.
  std::string subject;
  // subjectAltName entries: DNS names and IP addresses (v4 or v6 text).
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

// Builds the CertificationRequestInfo from the key's public key, the subject and the SANs, signs its DER
// inside the HSM (CKM_SHA256_RSA_PKCS for RSA; CKM_ECDSA over SHA-256 / SHA-384 for P-256 / P-384 with the
// raw r||s turned into DER) and returns the CSR as PEM. `openssl req -verify` accepts it.
// InvalidArgument names a bad subject or SAN.
Result<std::string> SignCsr(Session& session, const KeyObjects& key, const CsrRequest& request);

}  // namespace kmra::p11
