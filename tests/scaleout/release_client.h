// A key server client as a compute node runs it, for the scale-out test: mutual TLS with the PKI's
// client certificate, an enclave quote over a fresh nonce (a simulated SGX platform), a release by
// the KMRA AppHSM API 0.2 (POST /sgx/keys/export, client nonce) or /v1 (POST /v1/nonce, then
// POST /v1/keys/{id}/release), and the unwrap the client does: RSA-OAEP for the session key, AES
// key wrap with padding for the PKCS#8 key, whose public key must be the certificate's.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "integration/release_client.h"

namespace kmra::scaleout {

enum class Api { kKmra, kV1 };

struct HttpReply {
  long status = 0;  // 0: no HTTP answer (connection refused, reset, timeout)
  std::string body;
  std::string error;  // curl's message when status is 0
  // The JSON error code of a refusal ("nonce.reused", "hsm.unavailable", ...), or "".
  std::string Code() const;
};

// One HTTPS connection (kept alive between calls) with a certificate of DIR/tls: "client" or
// "admin". Not thread-safe: one per thread.
class Https {
 public:
  Https(std::string pki_dir, std::string who);
  ~Https();
  Https(const Https&) = delete;
  Https& operator=(const Https&) = delete;
  HttpReply Call(const std::string& method, const std::string& url, const std::string& body = "");

 private:
  std::string dir_;
  std::string who_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
};

// A prepared release: the URL path and body (which carry the nonce), and the API.
struct ReleaseRequest {
  Api api = Api::kKmra;
  std::string path;
  std::string body;
};

// One client: its own RSA key and simulated enclave (integration::ReleaseClient, which makes the
// request bodies and checks the answers) and its own connection.
class ReleaseClient {
 public:
  static Result<std::unique_ptr<ReleaseClient>> Create(const std::string& pki_dir);

  // A request for `key_id` with a fresh nonce; /v1 first asks `base` for a server nonce.
  Result<ReleaseRequest> Prepare(const std::string& base, Api api, const std::string& key_id);
  HttpReply Send(const std::string& base, const ReleaseRequest& request);
  // Unwraps a 200 answer and checks the key against the certificate in it. Returns that
  // certificate (PEM); for /v1, sets `*version` to the released version.
  Result<std::string> Check(const ReleaseRequest& request, const HttpReply& reply,
                            int* version = nullptr) const;

 private:
  ReleaseClient(const std::string& pki_dir, integration::ReleaseClient enclave);

  integration::ReleaseClient enclave_;
  Https http_;
};

}  // namespace kmra::scaleout
