// Diagnostics of the PKCS#11 module. The module runs inside other programs (NGINX, OpenSSL,
// pkcs11-tool), so it writes one prefixed line to stderr (NGINX puts it in its error log).
// Never pass key bytes or PINs.
#pragma once

#include <string>

namespace kmra::token {

// Writes "kmra-pkcs11: <message>" to stderr, unless KMRA_TOKEN_QUIET is set.
void LogError(const std::string& message);

// Writes "kmra-pkcs11: debug: <message>" to stderr when KMRA_TOKEN_DEBUG=1 (and not quiet).
void LogDebug(const std::string& message);

}  // namespace kmra::token
