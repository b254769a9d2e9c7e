#include "client/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <memory>
#include <mutex>

namespace kmra::client {
namespace {

constexpr size_t kMaxBody = size_t{4} << 20;

struct Sink {
  std::string body;
  bool overflow = false;
};

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  if (sink->body.size() + n > kMaxBody) {
    sink->overflow = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  sink->body.append(data, n);
  return n;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

// The message a person needs for each way the connection can fail.
Error TransportError(CURLcode rc, const std::string& url, const TlsFiles& tls, const char* detail) {
  std::string d = detail[0] != '\0' ? detail : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
      return Error(Code::kUnavailable,
                   fmt::format("cannot reach the key server at {} ({}): is `kmra server` running "
                               "there, and are the host (-H) and port (-P) right?", url, d));
    case CURLE_COULDNT_RESOLVE_HOST:
      return Error(Code::kUnavailable,
                   fmt::format("cannot resolve the key server's host name in {} ({}): check -H", url,
                               d));
    case CURLE_OPERATION_TIMEDOUT:
      return Error(Code::kDeadlineExceeded,
                   fmt::format("the key server at {} did not answer in time ({}): check the network "
                               "path and the server's load", url, d));
    case CURLE_PEER_FAILED_VERIFICATION:
      return Error(Code::kUnauthenticated,
                   fmt::format("the key server's certificate at {} is not trusted ({}): it must be "
                               "signed by the CA in {} and name the host you connect to (-H)", url, d,
                               tls.ca_file.empty() ? "the system store (pass --ca)" : tls.ca_file));
    case CURLE_SSL_CACERT_BADFILE:
      return Error(Code::kInvalidArgument,
                   fmt::format("cannot use the CA file {} ({}): it must be a PEM certificate bundle",
                               tls.ca_file, d));
    case CURLE_SSL_CERTPROBLEM:
      return Error(Code::kInvalidArgument,
                   fmt::format("cannot use the client certificate {} / key {} ({}): both must be PEM "
                               "and belong together", tls.cert_file, tls.key_file, d));
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
      return Error(Code::kUnauthenticated,
                   fmt::format("the TLS connection to the key server at {} failed ({}): the server "
                               "requires a client certificate (--cert/--key) signed by the CA it "
                               "trusts{}", url, d,
                               tls.cert_file.empty() ? ", and none was given" : ""));
    default:
      return Error(Code::kUnavailable, fmt::format("request to {} failed: {}", url, d));
  }
}

}  // namespace

HttpClient::HttpClient(std::string base_url, TlsFiles tls, long timeout_s)
    : base_url_(std::move(base_url)), tls_(std::move(tls)), timeout_s_(timeout_s) {}

Result<HttpResponse> HttpClient::Get(const std::string& path) const {
  return Perform("GET", path, nullptr);
}

Result<HttpResponse> HttpClient::Post(const std::string& path, const std::string& json) const {
  return Perform("POST", path, &json);
}

Result<HttpResponse> HttpClient::Perform(const std::string& method, const std::string& path,
                                         const std::string* body) const {
  GlobalInit();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Internal("curl_easy_init failed");
  std::string url = base_url_ + path;
  Sink sink;
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s_);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!tls_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls_.ca_file.c_str());
  if (!tls_.cert_file.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, tls_.cert_file.c_str());
  if (!tls_.key_file.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, tls_.key_file.c_str());
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Accept: application/json"));
  if (body != nullptr) {
    headers.reset(curl_slist_append(headers.release(), "Content-Type: application/json"));
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  CURLcode rc = curl_easy_perform(c);
  if (sink.overflow) {
    return ResourceExhausted(fmt::format("the answer of {} is larger than {} bytes; refusing it", url,
                                         kMaxBody));
  }
  if (rc != CURLE_OK) return tl::unexpected<Error>(TransportError(rc, url, tls_, errbuf));
  HttpResponse r;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  r.body = std::move(sink.body);
  return r;
}

}  // namespace kmra::client
