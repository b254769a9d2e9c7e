// A small HTTPS client for the key server (libcurl): JSON requests over mutual TLS.
//
// Every transport failure becomes an Error that says what to check: the key server being down
// (Unavailable), its certificate not trusted or not matching the host (Unauthenticated), our client
// certificate refused (Unauthenticated), a bad certificate/key file (InvalidArgument), a timeout
// (DeadlineExceeded). HTTP error statuses are not errors here: the caller reads the JSON error body.
// Thread compatible: one HttpClient per thread.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace kmra::client {

struct TlsFiles {
  std::string ca_file;    // PEM CA bundle that signs the key server's certificate (empty: system CAs)
  std::string cert_file;  // our client certificate (PEM); its OU is our identity on the KMRA API
  std::string key_file;   // its private key (PEM)
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

class HttpClient {
 public:
  // `base_url` like "https://keys.example.com:8443" (no trailing slash).
  HttpClient(std::string base_url, TlsFiles tls, long timeout_s = 30);

  // GET/POST `path` ("/v1/nonce"); POST sends `json` with Content-Type application/json.
  // Response bodies over 4 MiB are refused (ResourceExhausted).
  Result<HttpResponse> Get(const std::string& path) const;
  Result<HttpResponse> Post(const std::string& path, const std::string& json) const;

  const std::string& base_url() const { return base_url_; }

 private:
  Result<HttpResponse> Perform(const std::string& method, const std::string& path,
                               const std::string* body) const;

  std::string base_url_;
  TlsFiles tls_;
  long timeout_s_;
};

}  // namespace kmra::client
