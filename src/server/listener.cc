// Boost.Beast/Asio are called through their error_code overloads only. The HTTP part after TLS is
// HttpExchange (sans-I/O); this file moves bytes, keeps deadlines and admits connections. As a last
// line, an exception that still escapes a handler (bad_alloc) unwinds that one connection's handler
// (closing it), is counted, and the I/O thread runs on.
// clang-format off
// <utility> must come before any Asio header with GCC 12 + Boost 1.74 (chriskohlhoff/asio#944).
#include <utility>
// clang-format on

#include "server/listener.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "crypto/ossl.h"
#include "server/admission.h"
#include "server/internal/listener_session.h"
#include "server/tls_identity.h"

namespace kmra::server {
namespace {

using internal::ListenerShared;

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// /readyz reports saturation for this long after the last refusal at max_connections or the last
// accept() without file descriptors, so a probe that gets in after the pressure still sees it.
constexpr std::chrono::seconds kSaturationMemory{10};

class BeastListener final : public Listener {
 public:
  explicit BeastListener(std::shared_ptr<ListenerShared> shared)
      : shared_(std::move(shared)),
        ssl_ctx_(ssl::context::tls_server),
        ioc_(shared_->options.threads),
        acceptor_(net::make_strand(ioc_)),
        backoff_(acceptor_.get_executor()) {}

  ~BeastListener() override {
    Stop();
    std::lock_guard<std::mutex> lock(shared_->io_mu);
    shared_->io_gone = true;  // deferred answers are no longer posted (ioc_ goes next)
  }

  Status Init() {
    const auto& o = shared_->options;
    beast::error_code ec;
    SSL_CTX* native = ssl_ctx_.native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
      return ossl::Fail(Code::kInternal, "cannot require TLS 1.2");
    }
    ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1 | ssl::context::no_compression,
                         ec);
    if (ec) return Internal("TLS options: " + ec.message());
    // Received plaintext is wiped from OpenSSL's record buffer once read (a request may carry an
    // imported private key).
    SSL_CTX_set_options(native, SSL_OP_CLEANSE_PLAINTEXT);
    ssl_ctx_.use_certificate_chain_file(o.cert_file, ec);
    if (ec) {
      return InvalidArgument("TLS server certificate '" + o.cert_file +
                             "' cannot be used: " + ec.message());
    }
    ssl_ctx_.use_private_key_file(o.key_file, ssl::context::pem, ec);
    if (ec) {
      return InvalidArgument("TLS server key '" + o.key_file + "' cannot be used: " + ec.message() +
                             " (is it the key of the certificate '" + o.cert_file + "'?)");
    }
    ssl_ctx_.load_verify_file(o.client_ca_file, ec);
    if (ec) {
      return InvalidArgument("client CA file '" + o.client_ca_file +
                             "' cannot be loaded: " + ec.message());
    }
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);  // takes ownership
    }
    KMRA_TRY(InstallClientVerify(native));
    SSL_CTX_set_session_id_context(native, reinterpret_cast<const unsigned char*>("kmra"), 4);
    // Idle connections keep no TLS read/write buffers (OpenSSL frees them between records).
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);

    auto address = net::ip::make_address(o.address, ec);
    if (ec) return InvalidArgument("listen address '" + o.address + "' is not an IP address");
    tcp::endpoint endpoint(address, o.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return Unavailable("cannot open a socket: " + ec.message());
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    acceptor_.bind(endpoint, ec);
    if (ec) {
      return Unavailable("cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " +
                         ec.message());
    }
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Unavailable("listen: " + ec.message());
    port_ = acceptor_.local_endpoint(ec).port();
    if (Metrics* m = o.metrics) {
      using T = Metrics::Type;
      m->Describe("kmra_connections_open", T::kGauge, "Open client connections");
      m->Describe("kmra_connections_max", T::kGauge, "[listen] max_connections");
      m->Describe("kmra_listener_saturated", T::kGauge,
                  "1 while new connections are refused (max_connections) or accept() backs off "
                  "(out of file descriptors)");
      m->Describe("kmra_connections_refused_total", T::kCounter,
                  "Connections closed at accept: max_connections, per_address, rate, no_peer");
      m->Describe("kmra_connection_errors_total", T::kCounter,
                  "Connections closed for an error: first_bytes_timeout, proxy_header, "
                  "tls_handshake, handshake_timeout, request_timeout, read, write, bad_http, "
                  "headers_too_large, body_too_large, exception");
      m->Describe("kmra_accept_errors_total", T::kCounter,
                  "accept() failures: emfile, enfile, no_memory (each followed by a 50-100 ms "
                  "pause), other");
    }
    shared_->Gauge("kmra_connections_max", static_cast<double>(o.max_connections));
    shared_->Gauge("kmra_connections_open", 0);
    shared_->Gauge("kmra_listener_saturated", 0);
    DoAccept();
    for (int i = 0; i < std::max(1, o.threads); ++i) {
      threads_.emplace_back([this] { RunGuarded(); });
    }
    return OkStatus();
  }

  std::uint16_t port() const override { return port_; }
  std::size_t connections() const override { return shared_->connections.load(); }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    beast::error_code ec;
    acceptor_.close(ec);  // new connections are refused at once instead of waiting in the backlog
    cv_.notify_all();
  }

  void Wait() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stopped_; });
  }

 private:
  // An exception out of a completion handler unwinds that handler (dropping its connection) and
  // lands here; io_context::run may be called again without restart().
  void RunGuarded() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (...) {
        shared_->Error("exception");
      }
    }
  }

  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      OnAccept(ec, std::move(s));
    });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {
      const bool no_fd = ec == net::error::no_descriptors || ec.value() == ENFILE ||
                         ec == net::error::no_buffer_space || ec == net::error::no_memory;
      shared_->Count("kmra_accept_errors_total", ec == net::error::no_descriptors ? "emfile"
                                                 : ec.value() == ENFILE           ? "enfile"
                                                 : no_fd                          ? "no_memory"
                                                                                  : "other");
      if (no_fd) return BackOff();
      return DoAccept();
    }
    Admit(std::move(socket));
    DoAccept();
  }

  // Out of file descriptors: accepting again at once would spin (the pending connection stays in
  // the backlog and accept fails again immediately). Wait 50-100 ms; connections close meanwhile.
  void BackOff() {
    Saturated();
    backoff_.expires_after(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 100)(rng_)));
    backoff_.async_wait([this](beast::error_code ec) {
      if (ec != net::error::operation_aborted) DoAccept();
    });
  }

  void Saturated() {
    if (!saturated_) shared_->Gauge("kmra_listener_saturated", 1);
    saturated_ = true;
    saturated_at_ = std::chrono::steady_clock::now();
  }

  void Refuse(tcp::socket& socket, std::string_view reason) {
    shared_->Count("kmra_connections_refused_total", reason);
    beast::error_code ec;
    socket.set_option(net::socket_base::linger(true, 0), ec);  // RST: no TIME_WAIT kept here
    socket.close(ec);
  }

  void Admit(tcp::socket socket) {
    beast::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    if (ec) return Refuse(socket, "no_peer");
    std::string ip = peer.address().to_string(ec);
    if (ec) return Refuse(socket, "no_peer");
    const auto& o = shared_->options;
    if (shared_->connections.load() >= o.max_connections) {
      Saturated();
      return Refuse(socket, "max_connections");
    }
    if (saturated_ && std::chrono::steady_clock::now() - saturated_at_ > kSaturationMemory) {
      saturated_ = false;
      shared_->Gauge("kmra_listener_saturated", 0);
    }
    const bool proxied = shared_->TrustedProxy(ip);
    std::string admitted;
    if (!proxied) {
      // Behind a trusted proxy the caps apply once the PROXY header names the client.
      auto verdict = shared_->admission->Admit(ip, AdmissionTable::Clock::now());
      if (verdict != AdmissionTable::Verdict::kAdmit) {
        return Refuse(socket, AdmissionTable::Reason(verdict));
      }
      admitted = ip;
    }
    socket.set_option(tcp::no_delay(true), ec);
    internal::StartSession(std::move(socket), ssl_ctx_, shared_, ip, peer.port(),
                           std::move(admitted), proxied);
  }

  // Declaration order matters: sessions (owned by handlers inside ioc_) use ssl_ctx_ and shared_.
  std::shared_ptr<ListenerShared> shared_;
  ssl::context ssl_ctx_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;
  std::minstd_rand rng_{std::random_device{}()};
  bool saturated_ = false;  // acceptor strand only
  std::chrono::steady_clock::time_point saturated_at_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<Listener>> Listener::Start(const ListenerOptions& options, Handler handler) {
  auto shared = std::make_shared<ListenerShared>();
  shared->options = options;
  shared->handler = std::move(handler);
  shared->admission = std::make_unique<AdmissionTable>(AdmissionLimits{
      options.max_connections_per_address, options.new_connections_per_second_per_address});
  auto listener = std::make_unique<BeastListener>(std::move(shared));
  KMRA_TRY(listener->Init());
  return std::unique_ptr<Listener>(std::move(listener));
}

}  // namespace kmra::server
