// clang-format off
// <utility> must come before any Asio header with GCC 12 + Boost 1.74 (chriskohlhoff/asio#944).
#include <utility>
// clang-format on

#include "server/internal/listener_session.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <optional>
#include <vector>

#include "base/secret_bytes.h"
#include "server/http_exchange.h"
#include "server/proxy_protocol.h"
#include "server/tls_identity.h"

namespace kmra::server::internal {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr std::chrono::seconds kShutdownTimeout{5};
constexpr std::size_t kReadChunk = 16 << 10;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ssl::context& ctx, std::shared_ptr<ListenerShared> shared,
          std::string ip, unsigned short port, std::string admitted)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        hold_(socket_.get_executor()),
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
      // The deadline is the client's, not this server's queue: when the I/O threads were busy (HSM
      // key generation runs on them), bytes that arrived in time may still wait for their handler,
      // queued behind this one. Those count as in time.
      beast::error_code probe;
      if (self->socket_.is_open() && self->socket_.available(probe) > 0 && !probe) return;
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
    // A wait can complete with nothing to read yet (seen under load): only a zero-byte peek means
    // the client closed; no data yet means wait again (the first-bytes timer still runs).
    std::uint8_t first = 0;
    const ssize_t peeked = ::recv(socket_.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return WaitFirstBytes();
    }
    phase_ = Phase::kTls;
    timer_.cancel();
    // Closed (or failed) without a byte: no TLS state for it.
    if (peeked <= 0) return;
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
    SecureWipe(read_buffer_->data(), bytes);  // a request may carry a secret (an imported key)
    Send(std::move(out));
  }

  // Writes what the exchange answered; then reads on, closes, or waits for a deferred answer.
  void Send(ExchangeOutput out) {
    if (!out.error.empty()) shared_->Error(out.error);
    if (out.deferred) deferred_ = std::move(out.deferred);
    if (out.bytes.empty()) {
      if (out.close) return DoClose();
      if (deferred_) return Await();
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
    if (deferred_) return Await();
    DoRead();
  }

  // A handler's answer comes later, from another thread: nothing is read meanwhile (so no request
  // is answered before it). The hold timer keeps the session alive until then; the completion
  // holds only a weak reference, so a session the io_context has let go of is simply not found.
  // A client that disconnects meanwhile is noticed when the answer is written.
  void Await() {
    hold_.expires_at(net::steady_timer::time_point::max());
    hold_.async_wait([self = shared_from_this()](beast::error_code) {});
    auto deferred = std::move(deferred_);
    deferred->OnComplete([weak = weak_from_this(), shared = shared_](Response response) mutable {
      std::lock_guard<std::mutex> lock(shared->io_mu);
      if (shared->io_gone) return;
      auto self = weak.lock();
      if (!self) return;
      net::post(self->hold_.get_executor(), [weak, answer = std::move(response)]() mutable {
        if (auto session = weak.lock()) session->OnAnswer(answer);
      });
    });
  }

  void OnAnswer(const Response& response) {
    hold_.cancel();
    Send(exchange_->Resume(response));
  }

  void DoClose() {
    beast::get_lowest_layer(*stream_).expires_after(kShutdownTimeout);
    stream_->async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  tcp::socket socket_;  // until the first bytes; then moved into stream_
  net::steady_timer timer_;
  net::steady_timer hold_;  // keeps the session while a deferred answer is awaited
  ssl::context& ctx_;
  std::shared_ptr<ListenerShared> shared_;
  std::string ip_;
  std::string remote_;
  std::string admitted_;  // the address counted in the admission table ("" when none yet)
  Phase phase_ = Phase::kFirstBytes;
  std::vector<std::uint8_t> proxy_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  std::optional<HttpExchange> exchange_;
  std::unique_ptr<std::array<char, kReadChunk>> read_buffer_;
  std::string write_buffer_;
  std::shared_ptr<Deferred> deferred_;  // an answer to wait for once the write in flight is done
};

}  // namespace

void StartSession(tcp::socket&& socket, ssl::context& ctx, std::shared_ptr<ListenerShared> shared,
                  std::string ip, unsigned short port, std::string admitted, bool proxied) {
  auto session = std::make_shared<Session>(std::move(socket), ctx, std::move(shared), std::move(ip),
                                           port, std::move(admitted));
  session->Start(proxied);
}

}  // namespace kmra::server::internal
