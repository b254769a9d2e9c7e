// The compute node's key load (ARCHITECTURE.md steps 1-4 and 9), the work of `kmra loadkey`:
//   1. open the token (our libkmra-pkcs11.so) by label and log in;
//   2. generate the quote key pair in it (RSA-3072 session objects, as Intel's ctk_loadkey);
//   3. get a nonce: the server's (/v1) or a KMRA client nonce (28 random bytes || LE unix time);
//   4. C_WrapKey(CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY) -> quote over SHA-256(exponent||modulus||nonce);
//   5. ask the key server for the key (mutual TLS);
//   6. unwrap it into a persistent, sensitive, non-extractable private key object, plus public key and
//      certificate objects with the same CKA_LABEL (the key id) and CKA_ID;
//   7. destroy the quote key pair and the session wrapping key (on every path).
// Idempotent: when the token already holds the certificate the server releases (same key version),
// the token is left as it is unless `force`; a different one (a newer version) replaces the old objects
// after the new ones are in place, so nginx never finds the token without a key.
#pragma once

#include <cstdint>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "base/secret_bytes.h"
#include "client/http_client.h"
#include "client/key_server.h"

namespace kmra::client {

struct LoadKeyOptions {
  std::string module;       // path of the token's PKCS#11 module
  std::string token_label;  // -t
  SecretBytes pin;          // -p: the token user PIN
  std::string key_id;       // -u: the key's id on the server; also the objects' CKA_LABEL
  std::string host;         // -H
  int port = 8443;          // -P
  Api api = Api::kKmra;
  TlsFiles tls;             // --ca, --cert, --key
  bool force = false;       // reload even when the token holds the same key version
  int quote_key_bits = 3072;
  long timeout_s = 30;
};

struct LoadKeyResult {
  std::string uri;          // RFC 7512 URI of the private key, without PIN
  bool changed = false;     // false: the token already held this key version
  bool replaced = false;    // true: an older version was removed
  std::string algorithm;    // "RSA-2048", "EC P-256", ...
  std::string subject;      // certificate subject
  int64_t version = 0;      // /v1 key version (0 on the KMRA API)
  std::string certificate_pem;  // the chain the server released (leaf first)
};

// Runs the whole flow. Every error says which step failed and what to do about it.
Result<LoadKeyResult> LoadKey(const LoadKeyOptions& options, const Clock& clock);

// Parses the output of CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY: CK_RSA_PUBLIC_KEY_PARAMS
// {ulExponentLen, ulModulusLen} || exponent || modulus || quote. InvalidArgument on bad lengths.
Result<QuotedKey> ParseQuoteOutput(std::span<const uint8_t> output);

}  // namespace kmra::client
