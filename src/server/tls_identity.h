// The client's identity as the TLS layer established it (OpenSSL only, no Beast): the verify
// callback that records what was wrong with a client certificate without failing the handshake, and
// the ClientIdentity read from a finished handshake.
#pragma once

#include <openssl/ssl.h>

#include "base/result.h"
#include "server/http.h"

namespace kmra::server {

// Installs the verify callback on `ctx` (SSL_VERIFY_PEER, verdict deferred to the handler).
Status InstallClientVerify(SSL_CTX* ctx);

// The identity after a finished handshake: presented, verified, and when not verified, why
// (ClientIdentity::problem distinguishes expired and not-yet-valid certificates of the right CA
// from certificates that do not chain to it).
ClientIdentity IdentityOf(SSL* ssl);

}  // namespace kmra::server
