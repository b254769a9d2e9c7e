// The key server's release APIs as the compute node speaks them: KMRA AppHSM API 0.2
// (POST /sgx/keys/export, client nonce) and OpenKMRA /v1 (POST /v1/nonce, POST /v1/keys/{id}/release).
// Request and response shapes: ARCHITECTURE.md "Interfaces on the wire".
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "client/http_client.h"
#include "p11/wrap.h"

namespace kmra::client {

enum class Api { kKmra, kV1 };

// "kmra" / "v1"; InvalidArgument for anything else.
Result<Api> ParseApi(std::string_view text);

// A KMRA client nonce: 28 random bytes followed by the 4-byte little-endian unix time `now_unix`.
std::array<uint8_t, 32> MakeKmraNonce(std::span<const uint8_t, 28> random, int64_t now_unix);

// What the token's CTK quote mechanism returned: the quoted RSA public key and its quote.
struct QuotedKey {
  std::vector<uint8_t> exponent;
  std::vector<uint8_t> modulus;
  std::vector<uint8_t> quote;
};

// What the server releases: the wrapped session key, the wrapped PKCS#8 key, the certificate chain.
struct ReleasedKey {
  std::vector<uint8_t> wrapped_swk;
  std::vector<uint8_t> wrapped_key;
  std::string certificate_pem;          // leaf first
  p11::OaepHash oaep = p11::OaepHash::kSha1;  // what the SWK was wrapped with
  int64_t version = 0;                  // /v1 only (0: the KMRA API does not say)
};

// Request bodies.
std::string KmraExportRequest(const std::string& key_id, const QuotedKey& key,
                              std::span<const uint8_t> nonce);
std::string V1ReleaseRequest(const QuotedKey& key, std::span<const uint8_t> nonce);

// Response bodies. InvalidArgument names the missing or malformed field.
Result<ReleasedKey> ParseKmraExportResponse(const std::string& body);
Result<ReleasedKey> ParseV1ReleaseResponse(const std::string& body);
Result<std::vector<uint8_t>> ParseV1NonceResponse(const std::string& body);

// The Error for a non-200 answer: the server's JSON error {"error":{"code","message","details"}} turned
// into "the key server refused ...: code: message (details)", with a Code that follows the HTTP status
// (403 -> PermissionDenied, 401 -> Unauthenticated, 404 -> NotFound, 5xx -> Unavailable, ...).
Error ErrorFromResponse(const std::string& what, const HttpResponse& response);

// The two calls loadkey makes.
class KeyServerClient {
 public:
  KeyServerClient(HttpClient http, Api api) : http_(std::move(http)), api_(api) {}

  Api api() const { return api_; }
  // /v1: a fresh single-use server nonce (32 bytes). Unimplemented on the KMRA API.
  Result<std::vector<uint8_t>> GetNonce() const;
  // Asks for key `key_id` with the quoted public key and the nonce that went into the quote.
  Result<ReleasedKey> Release(const std::string& key_id, const QuotedKey& key,
                              std::span<const uint8_t> nonce) const;

 private:
  HttpClient http_;
  Api api_;
};

}  // namespace kmra::client
