// The HTTP/1.1 part of a connection after TLS, without any I/O ("sans-I/O"): bytes the client sent
// go in, bytes to send back come out. The listener feeds it what it decrypts; the fuzz target
// (tests/fuzz/server/) feeds it raw bytes, so both run exactly the same parser, limits, handler
// call and serialiser.
//
// Limits: the request line and header fields count against header_limit (Beast's parser), and so do
// trailer fields of a chunked body (counted here; Beast 1.74 does not). Bytes that are buffered
// while waiting for the end of a header-like part (headers, trailers, a chunk header line) never
// exceed header_limit plus a small margin. Bodies are capped by body_limit. Nothing here throws:
// every failure is an HTTP error response followed by close, or a close.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/secret_bytes.h"
#include "server/http.h"

namespace kmra::server {

// Called for every complete request; must be thread safe and must not throw.
using Handler = std::function<Response(Request&)>;

struct ExchangeLimits {
  std::size_t body_limit = 1 << 20;     // bytes; larger bodies get 413
  std::size_t header_limit = 16 << 10;  // bytes of request line, headers and trailers; else 431
};

struct ExchangeOutput {
  std::string bytes;   // to send, in order (one or more responses)
  bool close = false;  // close the connection once `bytes` are sent
  int completed = 0;   // requests answered by this call
  // When the connection is closed for an error: a short stable reason for
  // kmra_connection_errors_total ("bad_http", "headers_too_large", "body_too_large", "exception").
  std::string_view error;
  // Set when a handler's answer comes later: `bytes` hold the answers before it; nothing more is
  // parsed until Resume is called with the answer.
  std::shared_ptr<Deferred> deferred;
};

class HttpExchange {
 public:
  // `handler` must outlive the exchange. `remote` ("ip:port") and `client` are copied into every
  // Request.
  HttpExchange(ExchangeLimits limits, const Handler* handler, std::string remote,
               ClientIdentity client);
  ~HttpExchange();
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // Consumes bytes received from the client. Never throws. After a result with close set, further
  // calls return nothing.
  ExchangeOutput Feed(std::string_view bytes) noexcept;

  // Sends the answer a handler deferred (ExchangeOutput::deferred), then goes on with requests that
  // were already received. Never throws.
  ExchangeOutput Resume(const Response& response) noexcept;

  // True while an answer is deferred.
  bool Awaiting() const { return awaiting_.has_value(); }

  // True when part of a request is buffered (the client has started a request it has not finished).
  bool MidRequest() const;

 private:
  class Parser;
  ExchangeOutput FeedUnguarded(std::string_view bytes);
  ExchangeOutput Guarded(std::string_view bytes, const Response* resumed) noexcept;
  ExchangeOutput Run(std::string_view bytes, const Response* resumed);
  enum class Failure { kBodyTooLarge, kHeadersTooLarge, kBadHttp };
  // Appends the error response for `failure` to `out` and closes the exchange.
  ExchangeOutput Fail(ExchangeOutput out, Failure failure, std::string_view detail = {});

  ExchangeLimits limits_;
  const Handler* handler_;
  std::string remote_;
  ClientIdentity client_;
  std::unique_ptr<Parser> parser_;
  WipingString pending_;  // received bytes the parser has not consumed yet (may hold secrets)
  bool closed_ = false;
  // How to write the deferred answer, while one is awaited.
  struct Awaited {
    bool keep_alive;
    unsigned version;
    bool head;
  };
  std::optional<Awaited> awaiting_;
};

// Serialises a response as HTTP/1.x: status line, Server, Content-Type, extra headers (CR and LF
// removed from names and values), Content-Length (not for 1xx, 204, 304) and Connection. The body
// is left out for HEAD requests.
std::string SerializeResponse(const Response& response, bool keep_alive, unsigned version,
                              bool head_request);

}  // namespace kmra::server
