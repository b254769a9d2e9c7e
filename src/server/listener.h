// The HTTPS listener: Boost.Beast over TLS 1.2+ with client certificates, async, with timeouts and
// limits. Everything Beast/Asio lives in listener.cc; callers see only Request/Response.
//
// Admission (docs/server.md "Network edge"): a global cap on open connections, per source address a
// cap on concurrent connections and a rate of new ones; until the first byte arrives a connection
// holds only its socket and a timer (the TLS object and buffers come with the bytes), and it must
// send its first byte within first_bytes_timeout. accept() failing with EMFILE/ENFILE backs off
// 50-100 ms. Behind a proxy that sends PROXY protocol v2, the per-address caps apply to the address
// in the PROXY header, which is read only from the configured trusted peers.
//
// Client certificates: the server always asks for one. A missing or untrusted certificate does not
// fail the handshake; the listener passes what it saw in Request::client (presented, verified,
// verify_error), so the handler can refuse with a JSON error a person can read and leave an audit
// record.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "server/http.h"
#include "server/http_exchange.h"
#include "server/metrics.h"

namespace kmra::server {

struct ListenerOptions {
  std::string address = "127.0.0.1";    // IPv4 or IPv6 literal
  std::uint16_t port = 0;               // 0: the kernel picks one; see Listener::port()
  std::string cert_file;                // PEM server certificate chain (leaf first)
  std::string key_file;                 // PEM private key of the leaf
  std::string client_ca_file;           // PEM CA(s) that issue client certificates
  std::size_t body_limit = 1 << 20;     // bytes; larger bodies get 413
  std::size_t header_limit = 16 << 10;  // bytes; larger headers get 431
  std::chrono::milliseconds handshake_timeout{10'000};
  // A whole request must arrive within this time after the connection is ready for it (after the
  // handshake or after the previous response). Covers idle keep-alive connections and slow clients.
  std::chrono::milliseconds request_timeout{30'000};
  int threads = 2;  // I/O threads; handlers run on them

  // Admission control.
  std::size_t max_connections = 4096;  // open connections; further ones are closed at once
  std::size_t max_connections_per_address = 256;        // concurrent, per source address; 0: no cap
  double new_connections_per_second_per_address = 200;  // token bucket; 0: no cap
  // A new connection must send its first byte (ClientHello, or the PROXY header) within this time;
  // handshake_timeout runs only after.
  std::chrono::milliseconds first_bytes_timeout{2'000};
  // PROXY protocol v2: connections from these peer IP addresses must start with a PROXY v2 header,
  // whose source address then stands for the client. Empty: PROXY headers are never read.
  std::vector<std::string> proxy_trusted_peers;

  // Where the listener counts connections, refusals and errors (kmra_connection*_total,
  // kmra_accept_errors_total, kmra_connections_open, kmra_listener_saturated). May be null.
  Metrics* metrics = nullptr;
};

class Listener {
 public:
  // Binds, starts the I/O threads and returns. Errors name the file or address that was wrong.
  static Result<std::unique_ptr<Listener>> Start(const ListenerOptions& options, Handler handler);

  virtual ~Listener() = default;
  // The bound TCP port (the real one when options.port was 0).
  virtual std::uint16_t port() const = 0;
  // Stops accepting, closes connections and joins the I/O threads. Idempotent.
  virtual void Stop() = 0;
  // Blocks until Stop() has been called (from another thread or a signal handler).
  virtual void Wait() = 0;
  // Number of open connections right now.
  virtual std::size_t connections() const = 0;
};

}  // namespace kmra::server
