// Our own HTTP request/response types. The Beast/Asio listener (listener.cc) converts to and from these,
// so no other translation unit has to include Beast (one Beast TU costs 12 s and 0.5 GB to compile).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kmra::server {

// Who is on the other end of the mutual TLS connection, as the TLS layer established it.
struct ClientIdentity {
  bool presented = false;        // the client sent a certificate
  bool verified = false;         // ... and it chains to the configured client CA (X509_V_OK)
  std::string verify_error;      // OpenSSL's reason when presented && !verified
  // Why a presented certificate is not verified: it does not chain to the client CA (kUntrusted), or
  // it does but is outside its validity period.
  enum class Problem { kNone, kUntrusted, kExpired, kNotYetValid };
  Problem problem = Problem::kNone;
  std::string organizational_unit;  // OU of the subject: the client's identity, KMRA style
  std::string common_name;       // CN of the subject
  std::string subject;           // the whole subject, one line (RFC 2253)
  std::vector<std::uint8_t> certificate_der;
};

// One HTTP request. Header names are lower case.
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/v1/keys?limit=5"
  std::string path;    // target without the query: "/v1/keys"
  std::string query;   // after '?', undecoded; empty when none
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // "ip:port"
  ClientIdentity client;

  // Value of the first header with this (lower case) name, or "" when absent.
  std::string_view Header(std::string_view lower_name) const;
  // Value of a query parameter (percent-decoded), or "" when absent.
  std::string QueryParam(std::string_view name) const;
};

// One HTTP response.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Standard reason phrase ("Not Found") for a status code.
std::string_view ReasonPhrase(int status);

}  // namespace kmra::server
