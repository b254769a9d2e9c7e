// One client connection of the listener (internal to listener.cc): waits for the first byte with
// nothing but its socket and a timer, reads a PROXY v2 header from trusted peers, then runs TLS and
// feeds what it decrypts to an HttpExchange. Asio/Beast inside; error_code forms only.
#pragma once

// clang-format off
// <utility> must come before any Asio header with GCC 12 + Boost 1.74 (chriskohlhoff/asio#944).
#include <utility>
// clang-format on

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "server/admission.h"
#include "server/listener.h"

namespace kmra::server::internal {

// State shared by the acceptor and every session; outlives them all.
struct ListenerShared {
  ListenerOptions options;
  Handler handler;
  std::atomic<std::size_t> connections{0};
  std::unique_ptr<AdmissionTable> admission;
  // A deferred answer (from a thread outside the I/O threads) is posted to its session only while
  // the io_context exists: the listener sets io_gone, under io_mu, before destroying it.
  std::mutex io_mu;
  bool io_gone = false;

  void Count(const char* family, std::string_view reason) {
    if (options.metrics) options.metrics->Add(family, {{"reason", std::string(reason)}});
  }
  void Error(std::string_view reason) { Count("kmra_connection_errors_total", reason); }
  void Gauge(const char* name, double value) {
    if (options.metrics) options.metrics->Set(name, {}, value);
  }
  void Opened() { Gauge("kmra_connections_open", static_cast<double>(++connections)); }
  void Closed() { Gauge("kmra_connections_open", static_cast<double>(--connections)); }
  bool TrustedProxy(const std::string& ip) const {
    const auto& peers = options.proxy_trusted_peers;
    return std::find(peers.begin(), peers.end(), ip) != peers.end();
  }
};

// Serves an admitted connection. `admitted` is the address counted in shared->admission (released
// when the connection ends), empty when `proxied`: then the PROXY header names it.
void StartSession(boost::asio::ip::tcp::socket&& socket, boost::asio::ssl::context& ctx,
                  std::shared_ptr<ListenerShared> shared, std::string ip, unsigned short port,
                  std::string admitted, bool proxied);

}  // namespace kmra::server::internal
