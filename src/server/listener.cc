// Boost.Beast/Asio are called through their error_code overloads only. The HTTP part after TLS is
// HttpExchange (sans-I/O); this file moves bytes, keeps deadlines and admits connections. As a last
// line, an exception that still escapes a handler (bad_alloc) unwinds that one connection's handler
// (closing it), is counted, and the I/O thread runs on.
// <utility> must come before any Asio header with GCC 12 + Boost 1.74 (chriskohlhoff/asio#944).
#include "server/listener.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "crypto/ossl.h"
#include "server/admission.h"
#include "server/proxy_protocol.h"
#include "server/tls_identity.h"

namespace kmra::server {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr std::chrono::seconds kShutdownTimeout{5};
constexpr std::size_t kReadChunk = 16 << 10;
// /readyz reports saturation for this long after the last refusal at max_connections or the last
// accept() without file descriptors, so a probe that gets in after the pressure still sees it.
constexpr std::chrono::seconds kSaturationMemory{10};

// State shared by the acceptor and every session; outlives them all.
struct Shared {
  ListenerOptions options;
  Handler handler;
  std::atomic<std::size_t> connections{0};
  std::unique_ptr<AdmissionTable> admission;

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

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ssl::context& ctx, std::shared_ptr<Shared> shared, std::string ip,
          unsigned short port, std::string admitted)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        ctx_(ctx),
        shared_(std::move(shared)),
        ip_(std::move(ip)),
        remote_(ip_ + ":" + std::to_string(port)),
        admitted_(std::move(admitted)) {
    shared_->Opened();
  }
  ~Session() {
    if (!admitted_.empty()) shared_->admission->Release(admitted_);
    shared_->Closed();
  }

  void Start(bool proxied) {
    net::dispatch(socket_.get_executor(),
                  [self = shared_from_this(), proxied] { self->OnStart(proxied); });
  }

 private:
  enum class Phase { kFirstBytes, kTls };

  void OnStart(bool proxied) {
    timer_.expires_after(shared_->options.first_bytes_timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->phase_ != Phase::kFirstBytes) return;
      self->shared_->Error("first_bytes_timeout");
      beast::error_code ignored;
      self->socket_.close(ignored);
    });
    if (proxied) return ReadProxyHeader();
    WaitFirstBytes();
  }

  void ReadProxyHeader() {
    proxy_.resize(kProxyV2FixedBytes);
    net::async_read(socket_, net::buffer(proxy_),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) return self->ProxyFailed(ec == net::error::operation_aborted);
                      auto more = ProxyV2BodyLength(self->proxy_);
                      if (!more) return self->ProxyFailed(false);
                      self->proxy_.resize(kProxyV2FixedBytes + *more);
                      net::async_read(
                          self->socket_,
                          net::buffer(self->proxy_.data() + kProxyV2FixedBytes, *more),
                          [self](beast::error_code ec2, std::size_t) { self->OnProxyHeader(ec2); });
                    });
  }

  void ProxyFailed(bool timed_out) {
    if (!timed_out) shared_->Error("proxy_header");
    timer_.cancel();
  }

  void OnProxyHeader(beast::error_code ec) {
    if (ec) return ProxyFailed(ec == net::error::operation_aborted);
    auto header = ParseProxyV2(proxy_);
    if (!header) return ProxyFailed(false);
    proxy_ = {};
    const std::string source = header->local ? ip_ : header->source_address;
    auto verdict = shared_->admission->Admit(source, AdmissionTable::Clock::now());
    if (verdict != AdmissionTable::Verdict::kAdmit) {
      shared_->Count("kmra_connections_refused_total", AdmissionTable::Reason(verdict));
      timer_.cancel();
      return;
    }
    admitted_ = source;
    if (!header->local) remote_ = source + ":" + std::to_string(header->source_port);
    WaitFirstBytes();
  }

  // Nothing but the socket and the timer until the client sends a byte.
  void WaitFirstBytes() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      self->OnFirstBytes(ec);
    });
  }

  void OnFirstBytes(beast::error_code ec) {
    if (ec || phase_ != Phase::kFirstBytes) return;
    phase_ = Phase::kTls;
    timer_.cancel();
    stream_.emplace(std::move(socket_), ctx_);
    beast::get_lowest_layer(*stream_).expires_after(shared_->options.handshake_timeout);
    stream_->async_handshake(ssl::stream_base::server,
                             beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      // Scanners, plain HTTP, TLS < 1.2, a client that stalls: nothing to answer.
      return shared_->Error(ec == beast::error::timeout ? "handshake_timeout" : "tls_handshake");
    }
    exchange_.emplace(ExchangeLimits{shared_->options.body_limit, shared_->options.header_limit},
                      &shared_->handler, remote_, IdentityOf(stream_->native_handle()));
    read_buffer_ = std::make_unique<std::array<char, kReadChunk>>();
    beast::get_lowest_layer(*stream_).expires_after(shared_->options.request_timeout);
    DoRead();
  }

  void DoRead() {
    stream_->async_read_some(net::buffer(*read_buffer_),
                             beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t bytes) {
    if (ec == net::error::eof || ec == ssl::error::stream_truncated) return DoClose();
    if (ec) return shared_->Error(ec == beast::error::timeout ? "request_timeout" : "read");
    ExchangeOutput out = exchange_->Feed(std::string_view(read_buffer_->data(), bytes));
    if (!out.error.empty()) shared_->Error(out.error);
    if (out.bytes.empty()) {
      if (out.close) return DoClose();
      return DoRead();
    }
    write_buffer_ = std::move(out.bytes);
    beast::get_lowest_layer(*stream_).expires_after(shared_->options.request_timeout);
    net::async_write(*stream_, net::buffer(write_buffer_),
                     beast::bind_front_handler(&Session::OnWrite, shared_from_this(), out.close));
  }

  void OnWrite(bool close, beast::error_code ec, std::size_t /*bytes*/) {
    write_buffer_ = std::string();
    if (ec) return shared_->Error(ec == beast::error::timeout ? "request_timeout" : "write");
    if (close) return DoClose();
    DoRead();
  }

  void DoClose() {
    beast::get_lowest_layer(*stream_).expires_after(kShutdownTimeout);
    stream_->async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  tcp::socket socket_;  // until the first bytes; then moved into stream_
  net::steady_timer timer_;
  ssl::context& ctx_;
  std::shared_ptr<Shared> shared_;
  std::string ip_;
  std::string remote_;
  std::string admitted_;  // the address counted in the admission table ("" when none yet)
  Phase phase_ = Phase::kFirstBytes;
  std::vector<std::uint8_t> proxy_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  std::optional<HttpExchange> exchange_;
  std::unique_ptr<std::array<char, kReadChunk>> read_buffer_;
  std::string write_buffer_;
};

class BeastListener final : public Listener {
 public:
  explicit BeastListener(std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)),
        ssl_ctx_(ssl::context::tls_server),
        ioc_(shared_->options.threads),
        acceptor_(net::make_strand(ioc_)),
        backoff_(acceptor_.get_executor()) {}

  ~BeastListener() override { Stop(); }

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
    auto session = std::make_shared<Session>(std::move(socket), ssl_ctx_, shared_, ip, peer.port(),
                                             std::move(admitted));
    session->Start(proxied);
  }

  // Declaration order matters: sessions (owned by handlers inside ioc_) use ssl_ctx_ and shared_.
  std::shared_ptr<Shared> shared_;
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
  auto shared = std::make_shared<Shared>();
  shared->options = options;
  shared->handler = std::move(handler);
  shared->admission = std::make_unique<AdmissionTable>(AdmissionLimits{
      options.max_connections_per_address, options.new_connections_per_second_per_address});
  auto listener = std::make_unique<BeastListener>(std::move(shared));
  KMRA_TRY(listener->Init());
  return std::unique_ptr<Listener>(std::move(listener));
}

}  // namespace kmra::server
