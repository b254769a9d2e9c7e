// A small blocking HTTP(S) GET on libcurl for the PCS/PCCS client.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace kmra::collateral::internal {

struct HttpOptions {
  long timeout_ms = 10000;          // whole request
  long connect_timeout_ms = 3000;
  std::string ca_file;              // PEM bundle to verify the server with; empty: system store
  bool verify_tls = true;           // false only for lab PCCS with self-signed certificates
  std::size_t max_body = 1 << 20;   // collateral is a few KiB; refuse anything over 1 MiB
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case (HTTP names are case-free)

  // The header value or "" when absent.
  std::string Header(const std::string& lower_name) const;
};

// GETs `url` with `extra_headers` ("Name: value"). Unavailable when the server cannot be reached,
// DeadlineExceeded on timeout, ResourceExhausted when the body is over max_body. Any HTTP status
// is a successful response here.
Result<HttpResponse> HttpGet(const std::string& url, const std::vector<std::string>& extra_headers,
                             const HttpOptions& options);

// Percent-decodes (RFC 3986) text such as PCS issuer-chain headers. InvalidArgument for a bad escape.
Result<std::string> PercentDecode(std::string_view text);

}  // namespace kmra::collateral::internal
