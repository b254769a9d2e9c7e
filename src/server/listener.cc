// Boost.Beast is called through its error_code overloads only; nothing here throws into our code.
// <utility> must come before any Asio header with GCC 12 + Boost 1.74 (chriskohlhoff/asio#944).
#include <utility>

#include "server/listener.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "crypto/ossl.h"

namespace kmra::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr std::chrono::seconds kShutdownTimeout{5};

struct Shared {
  ListenerOptions options;
  Handler handler;
  std::atomic<std::size_t> connections{0};
};

std::string NameEntry(X509_NAME* name, int nid) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string OneLine(X509_NAME* name) {
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

ClientIdentity IdentityOf(SSL* ssl) {
  ClientIdentity id;
  auto cert = ossl::Wrap(SSL_get1_peer_certificate(ssl));
  if (!cert) return id;
  id.presented = true;
  long verify = SSL_get_verify_result(ssl);
  id.verified = verify == X509_V_OK;
  if (!id.verified) id.verify_error = X509_verify_cert_error_string(verify);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  id.organizational_unit = NameEntry(subject, NID_organizationalUnitName);
  id.common_name = NameEntry(subject, NID_commonName);
  id.subject = OneLine(subject);
  int len = i2d_X509(cert.get(), nullptr);
  if (len > 0) {
    id.certificate_der.resize(static_cast<size_t>(len));
    unsigned char* p = id.certificate_der.data();
    i2d_X509(cert.get(), &p);
  }
  return id;
}

// The chain is checked by OpenSSL as usual; accepting here only defers the verdict to the handler,
// which reads SSL_get_verify_result() and refuses with a readable error and an audit record.
int DeferVerdict(int /*preverified*/, X509_STORE_CTX* /*ctx*/) { return 1; }

std::string ErrorBody(std::string_view code, std::string_view message) {
  // Plain ASCII messages only, so no JSON escaping is needed here.
  return std::string(R"({"error":{"code":")") + std::string(code) + R"(","message":")" +
         std::string(message) + R"(","details":{}}})";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ssl::context& ctx, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket), ctx), shared_(std::move(shared)) {
    shared_->connections.fetch_add(1);
    beast::error_code ec;
    auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string(ec) + ":" + std::to_string(endpoint.port());
  }
  ~Session() { shared_->connections.fetch_sub(1); }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::OnRun, shared_from_this()));
  }

 private:
  void OnRun() {
    beast::get_lowest_layer(stream_).expires_after(shared_->options.handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // scanners, plain HTTP, TLS < 1.2: nothing to answer
    identity_ = IdentityOf(stream_.native_handle());
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(shared_->options.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(shared_->options.header_limit));
    beast::get_lowest_layer(stream_).expires_after(shared_->options.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::end_of_stream || ec == net::ssl::error::stream_truncated) return DoClose();
    if (ec == http::error::body_limit) {
      return SendError(413, "body_too_large",
                       "request body exceeds " + std::to_string(shared_->options.body_limit) +
                           " bytes");
    }
    if (ec == http::error::header_limit) {
      return SendError(431, "headers_too_large",
                       "request headers exceed " + std::to_string(shared_->options.header_limit) +
                           " bytes");
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::partial_message) {
      return SendError(400, "bad_http", "malformed HTTP request: " + ec.message());
    }
    if (ec) return;  // timeout, reset, partial message: the socket is closed by its owner going away

    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    req.remote_address = remote_;
    req.client = identity_;
    bool keep_alive = msg.keep_alive();
    unsigned version = msg.version();

    Response res;
    try {
      res = shared_->handler(req);
    } catch (...) {
      // Our handlers do not throw; this only turns a bad_alloc into a 500 instead of a dead process.
      res = Response{500, "application/json", ErrorBody("internal", "internal error"), {}};
    }
    Send(std::move(res), keep_alive, version);
  }

  void SendError(int status, std::string_view code, std::string message) {
    Send(Response{status, "application/json", ErrorBody(code, message), {}}, false, 11);
  }

  void Send(Response res, bool keep_alive, unsigned version) {
    auto out = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(res.status), version);
    out->set(http::field::server, "kmra");
    out->set(http::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) out->set(name, value);
    out->body() = std::move(res.body);
    out->keep_alive(keep_alive);
    out->prepare_payload();
    response_ = out;
    beast::get_lowest_layer(stream_).expires_after(shared_->options.request_timeout);
    http::async_write(stream_, *out,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t /*bytes*/) {
    response_.reset();
    if (ec) return;
    if (!keep_alive) return DoClose();
    DoRead();
  }

  void DoClose() {
    beast::get_lowest_layer(stream_).expires_after(kShutdownTimeout);
    stream_.async_shutdown(beast::bind_front_handler(&Session::OnShutdown, shared_from_this()));
  }

  void OnShutdown(beast::error_code /*ec*/) {}

  beast::ssl_stream<beast::tcp_stream> stream_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
  ClientIdentity identity_;
  std::string remote_;
};

class BeastListener final : public Listener {
 public:
  BeastListener(std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)),
        ssl_ctx_(ssl::context::tls_server),
        ioc_(shared_->options.threads),
        acceptor_(net::make_strand(ioc_)) {}

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
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, DeferVerdict);
    SSL_CTX_set_session_id_context(native, reinterpret_cast<const unsigned char*>("kmra"), 4);

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
    DoAccept();
    for (int i = 0; i < std::max(1, o.threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
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
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           [this](beast::error_code ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) {
      if (shared_->connections.load() >= shared_->options.max_connections) {
        socket.close(ec);
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), ssl_ctx_, shared_)->Run();
      }
    }
    DoAccept();
  }

  // Declaration order matters: sessions (owned by handlers inside ioc_) use ssl_ctx_ and shared_.
  std::shared_ptr<Shared> shared_;
  ssl::context ssl_ctx_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
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
  auto listener = std::make_unique<BeastListener>(std::move(shared));
  KMRA_TRY(listener->Init());
  return std::unique_ptr<Listener>(std::move(listener));
}

}  // namespace kmra::server
