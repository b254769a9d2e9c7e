// The TLS PKI of a deployment (`kmra pki init` writes DIR/tls/): a CA, the key server certificate,
// a loadkey client certificate whose subject OU is the client identity (KMRA style), an admin
// certificate, and `kmra pki sign` for CSRs of keys that never leave an HSM.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kmra::enclave::pki {

inline constexpr char kDefaultClientId[] = "ctk_loadkey_user_id_01234";
// Subject OU of the admin certificate; the key server maps it to the admin role.
inline constexpr char kAdminOu[] = "kmra_admin";

struct TlsPkiOptions {
  int64_t now = 0;
  std::vector<std::string> extra_sans;  // besides localhost and 127.0.0.1; IPs become IP: entries
  std::string client_id = kDefaultClientId;
};

// Writes DIR/tls/{ca.pem,ca.key,server.pem,server.key,client.pem,client.key,admin.pem,admin.key}.
// Keys are EC P-256, 0600; the directory 0700.
Status WriteTlsPki(const std::filesystem::path& dir, const TlsPkiOptions& options);

// Signs a PEM PKCS#10 request with DIR/tls/ca.key after verifying the request's own signature.
// Subject and subjectAltName are taken from the request; the certificate is a TLS end-entity
// certificate (serverAuth, clientAuth) valid `days` days from `now`. Returns the certificate PEM.
Result<std::string> SignCsr(const std::filesystem::path& dir, std::string_view csr_pem, int days,
                            int64_t now);

}  // namespace kmra::enclave::pki
