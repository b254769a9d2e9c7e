// Only Beast's basic_parser is used (no basic_fields: its insert throws std::length_error for a
// field value of 64 KiB or more, which is how a chunked trailer used to kill the process).
// clang-format off
// <utility> must come before any Asio header with GCC 12 + Boost 1.74 (chriskohlhoff/asio#944).
#include <utility>
// clang-format on

#include "server/http_exchange.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cctype>
#include <limits>
#include <new>

#include "server/json.h"

namespace kmra::server {
namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;
using SV = boost::beast::string_view;

// Room above header_limit for the buffered tail of a header-like part, so that Beast (which checks
// header_limit itself for the request header) reports the header case with its own error first.
constexpr std::size_t kBufferMargin = 4096;

std::string_view View(SV s) { return {s.data(), s.size()}; }

// Appends to a request body. A body may carry a secret (an imported key), so when the string must
// grow the old buffer is wiped before it is released; a Content-Length body is reserved once.
void AppendBody(std::string& body, SV bytes) {
  if (body.size() + bytes.size() > body.capacity()) {
    std::string bigger;
    bigger.reserve(std::max(body.capacity() * 2, body.size() + bytes.size()));
    bigger.append(body);
    if (!body.empty()) SecureWipe(body.data(), body.size());
    body.swap(bigger);
  }
  body.append(bytes.data(), bytes.size());
}

std::string Clean(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return out;
}

}  // namespace

// Builds our Request straight from the parser's events. Trailer fields are counted against
// header_limit together with the header and then dropped: no handler reads them, and RFC 9110
// §6.5.1 forbids merging them into the header section blindly.
class HttpExchange::Parser final : public http::basic_parser<true> {
 public:
  explicit Parser(const ExchangeLimits& limits) : header_limit_(limits.header_limit) {
    constexpr std::size_t kMax = std::numeric_limits<std::uint32_t>::max();
    header_limit(static_cast<std::uint32_t>(std::min(limits.header_limit, kMax)));
    body_limit(limits.body_limit);
    eager(true);
  }

  // The body may have carried a secret (an imported key): wiped when the request is done with,
  // answered or not.
  ~Parser() override {
    if (!request.body.empty()) SecureWipe(request.body.data(), request.body.size());
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  Request request;
  unsigned version = 11;

 private:
  void on_request_impl(http::verb, SV method, SV target, int version_number, error_code&) override {
    version = static_cast<unsigned>(version_number);
    request.method = std::string(View(method));
    request.target = std::string(View(target));
    std::size_t q = request.target.find('?');
    request.path = request.target.substr(0, q);
    if (q != std::string::npos) request.query = request.target.substr(q + 1);
    counted_ = method.size() + target.size() + 12;  // "M T HTTP/1.1\r\n"
  }

  void on_response_impl(int, SV, int, error_code& ec) override { ec = http::error::bad_version; }

  void on_field_impl(http::field, SV name, SV value, error_code& ec) override {
    counted_ += name.size() + value.size() + 4;  // "N: V\r\n"
    if (counted_ > header_limit_) {
      ec = http::error::header_limit;
      return;
    }
    if (in_trailer_) return;
    std::string lower(View(name));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(std::move(lower), std::string(View(value)));
  }

  void on_header_impl(error_code&) override {}

  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    // Beast has already refused a Content-Length over body_limit.
    if (length) request.body.reserve(static_cast<std::size_t>(*length));
  }

  std::size_t on_body_impl(SV body, error_code&) override {
    AppendBody(request.body, body);
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t size, SV extensions, error_code& ec) override {
    counted_ += extensions.size();
    if (counted_ > header_limit_) ec = http::error::header_limit;
    if (size == 0) in_trailer_ = true;
  }

  std::size_t on_chunk_body_impl(std::uint64_t, SV body, error_code&) override {
    AppendBody(request.body, body);
    return body.size();
  }

  void on_finish_impl(error_code&) override {}

  std::size_t header_limit_;
  std::size_t counted_ = 0;
  bool in_trailer_ = false;
};

HttpExchange::HttpExchange(ExchangeLimits limits, const Handler* handler, std::string remote,
                           ClientIdentity client)
    : limits_(limits), handler_(handler), remote_(std::move(remote)), client_(std::move(client)) {}

HttpExchange::~HttpExchange() = default;

bool HttpExchange::MidRequest() const {
  return awaiting_.has_value() || !pending_.empty() || parser_ != nullptr;
}

ExchangeOutput HttpExchange::Fail(ExchangeOutput out, Failure failure, std::string_view detail) {
  Response response;
  switch (failure) {
    case Failure::kBodyTooLarge:
      out.error = "body_too_large";
      response = ErrorResponse(
          413, out.error, "request body exceeds " + std::to_string(limits_.body_limit) + " bytes");
      break;
    case Failure::kHeadersTooLarge:
      out.error = "headers_too_large";
      response = ErrorResponse(
          431, out.error,
          "request headers or trailers exceed " + std::to_string(limits_.header_limit) + " bytes");
      break;
    case Failure::kBadHttp:
      out.error = "bad_http";
      response = ErrorResponse(400, out.error, "malformed HTTP request: " + std::string(detail));
      break;
  }
  out.bytes += SerializeResponse(response, false, 11, false);
  out.close = true;
  closed_ = true;
  parser_.reset();
  pending_ = WipingString();
  return out;
}

ExchangeOutput HttpExchange::Feed(std::string_view bytes) noexcept {
  return Guarded(bytes, nullptr);
}

ExchangeOutput HttpExchange::Resume(const Response& response) noexcept {
  return Guarded({}, &response);
}

ExchangeOutput HttpExchange::Guarded(std::string_view bytes, const Response* resumed) noexcept {
  try {
    return Run(bytes, resumed);
  } catch (...) {
    // Only std::bad_alloc can get here (our code and Beast's parser do not throw otherwise): close
    // this one connection and keep serving the others.
    closed_ = true;
    parser_.reset();
    pending_ = WipingString();
    awaiting_.reset();
    ExchangeOutput out;
    out.close = true;
    out.error = "exception";
    return out;
  }
}

ExchangeOutput HttpExchange::Run(std::string_view bytes, const Response* resumed) {
  ExchangeOutput out;
  if (closed_) return out;
  if (resumed) {
    if (!awaiting_) return out;
    const Awaited awaited = *awaiting_;
    awaiting_.reset();
    out.bytes += SerializeResponse(*resumed, awaited.keep_alive, awaited.version, awaited.head);
    ++out.completed;
    if (!awaited.keep_alive) {
      out.close = true;
      closed_ = true;
      pending_ = WipingString();
      return out;
    }
  }
  // While an answer is awaited, what arrives is kept for later: no request is answered before it.
  if (awaiting_) {
    pending_.append(bytes);
    return out;
  }
  ExchangeOutput more = FeedUnguarded(bytes);
  if (out.bytes.empty()) return more;
  out.bytes += more.bytes;
  out.close = more.close;
  out.completed += more.completed;
  out.error = more.error;
  out.deferred = std::move(more.deferred);
  return out;
}

ExchangeOutput HttpExchange::FeedUnguarded(std::string_view bytes) {
  ExchangeOutput out;
  if (closed_) return out;
  pending_.append(bytes);
  std::size_t pos = 0;
  while (pos < pending_.size()) {
    if (!parser_) parser_ = std::make_unique<Parser>(limits_);
    error_code ec;
    std::size_t used =
        parser_->put(boost::asio::const_buffer(pending_.data() + pos, pending_.size() - pos), ec);
    pos += used;
    if (ec == http::error::need_more) break;
    if (ec == http::error::body_limit) return Fail(std::move(out), Failure::kBodyTooLarge);
    if (ec == http::error::header_limit) return Fail(std::move(out), Failure::kHeadersTooLarge);
    if (ec) return Fail(std::move(out), Failure::kBadHttp, ec.message());
    if (!parser_->is_done()) {
      if (used == 0) break;
      continue;
    }
    std::unique_ptr<Parser> done = std::move(parser_);
    const bool keep_alive = done->keep_alive();
    Request& request = done->request;
    request.remote_address = remote_;
    request.client = client_;
    const bool head = request.method == "HEAD";
    Response response;
    try {
      response = (*handler_)(request);
    } catch (...) {
      // Our handlers do not throw; this only turns a bad_alloc into a 500 instead of a dead
      // process.
      response = ErrorResponse(500, "internal", "internal error");
    }
    if (response.deferred) {
      // The answer comes later (Resume); the bytes after this request wait for it.
      awaiting_ = Awaited{keep_alive, done->version, head};
      out.deferred = std::move(response.deferred);
      break;
    }
    out.bytes += SerializeResponse(response, keep_alive, done->version, head);
    ++out.completed;
    if (!keep_alive) {
      out.close = true;
      closed_ = true;
      pending_ = WipingString();
      return out;
    }
  }
  pending_.erase(0, pos);
  if (!awaiting_ && pending_.size() > limits_.header_limit + kBufferMargin) {
    // A header-like part (a trailer, a chunk header line) that does not end: it is buffered whole
    // before Beast parses it, so it is cut here.
    return Fail(std::move(out), Failure::kHeadersTooLarge);
  }
  if (pending_.empty()) pending_ = WipingString();  // an idle keep-alive connection holds nothing
  return out;
}

std::string SerializeResponse(const Response& response, bool keep_alive, unsigned version,
                              bool head_request) {
  const int status = response.status;
  std::string out = version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += ReasonPhrase(status);
  out += "\r\nServer: kmra\r\nContent-Type: ";
  out += Clean(response.content_type);
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    out += Clean(name);
    out += ": ";
    out += Clean(value);
    out += "\r\n";
  }
  const bool no_body = (status >= 100 && status < 200) || status == 204 || status == 304;
  if (!no_body) {
    out += "Content-Length: ";
    out += std::to_string(response.body.size());
    out += "\r\n";
  }
  if (version == 10 && keep_alive) out += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (!no_body && !head_request) out += response.body;
  return out;
}

}  // namespace kmra::server
