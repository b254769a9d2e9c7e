// Our own HTTP request/response types. The Beast/Asio listener (listener.cc) converts to and from
// these, so no other translation unit has to include Beast (one Beast TU costs 12 s and 0.5 GB to
// compile).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kmra::server {

// Who is on the other end of the mutual TLS connection, as the TLS layer established it.
struct ClientIdentity {
  bool presented = false;    // the client sent a certificate
  bool verified = false;     // ... and it chains to the configured client CA (X509_V_OK)
  std::string verify_error;  // OpenSSL's reason when presented && !verified
  // Why a presented certificate is not verified: it does not chain to the client CA (kUntrusted),
  // or it does but is outside its validity period.
  enum class Problem { kNone, kUntrusted, kExpired, kNotYetValid };
  Problem problem = Problem::kNone;
  std::string organizational_unit;  // OU of the subject: the client's identity, KMRA style
  std::string common_name;          // CN of the subject
  std::string subject;              // the whole subject, one line (RFC 2253)
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

struct Response;

// An answer that comes later: a handler that hands work to another thread (a long admin job that
// must not hold an I/O thread) returns a Response whose `deferred` is set, and whoever finishes the
// work calls Complete, from any thread. The connection sends nothing after that request (and reads
// no further request) until the answer is written, so HTTP/1.1 ordering holds. Thread safe.
class Deferred {
 public:
  using Sink = std::function<void(Response)>;
  // Delivers the answer: to the sink at once if one is set, else to the one set later. Only the
  // first call counts.
  void Complete(Response response);
  // Where the answer goes (the connection, or a wrapper that counts it). Called once, on the thread
  // that calls Complete (or on this one when the answer is already there).
  void OnComplete(Sink sink);

 private:
  std::mutex mu_;
  bool completed_ = false;
  std::unique_ptr<Response> answer_;  // completed before a sink was set
  Sink sink_;
};

// One HTTP response.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // Set when the answer comes later (see Deferred); the other fields are then unused.
  std::shared_ptr<Deferred> deferred = nullptr;
};

// Standard reason phrase ("Not Found") for a status code.
std::string_view ReasonPhrase(int status);

}  // namespace kmra::server
