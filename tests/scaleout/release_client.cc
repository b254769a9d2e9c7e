#include "scaleout/release_client.h"

#include <nlohmann/json.hpp>

#include "base/base64.h"

namespace kmra::scaleout {
namespace {

using Json = nlohmann::json;

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

std::string HttpReply::Code() const {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("code") && j["error"]["code"].is_string()) {
    return j["error"]["code"].get<std::string>();
  }
  return "";
}

Https::Https(std::string pki_dir, std::string who)
    : dir_(std::move(pki_dir)), who_(std::move(who)), curl_(curl_easy_init()) {
  headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
}

Https::~Https() {
  curl_slist_free_all(headers_);
  curl_easy_cleanup(curl_);
}

HttpReply Https::Call(const std::string& method, const std::string& url, const std::string& body) {
  HttpReply r;
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "GET") {
    curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl_, CURLOPT_CAINFO, (dir_ + "/tls/ca.pem").c_str());
  curl_easy_setopt(curl_, CURLOPT_SSLCERT, (dir_ + "/tls/" + who_ + ".pem").c_str());
  curl_easy_setopt(curl_, CURLOPT_SSLKEY, (dir_ + "/tls/" + who_ + ".key").c_str());
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl_);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  return r;
}

Result<std::unique_ptr<ReleaseClient>> ReleaseClient::Create(const std::string& pki_dir) {
  auto enclave = integration::ReleaseClient::Make(pki_dir);
  if (!enclave.platform) return FailedPrecondition("no simulated platform in " + pki_dir);
  return std::unique_ptr<ReleaseClient>(new ReleaseClient(pki_dir, std::move(enclave)));
}

ReleaseClient::ReleaseClient(const std::string& pki_dir, integration::ReleaseClient enclave)
    : enclave_(std::move(enclave)), http_(pki_dir, "client") {}

Result<ReleaseRequest> ReleaseClient::Prepare(const std::string& base, Api api,
                                              const std::string& key_id) {
  ReleaseRequest req;
  req.api = api;
  if (api == Api::kKmra) {
    req.path = "/sgx/keys/export";
    req.body = enclave_.KmraBody(key_id, integration::KmraNonce(integration::NowUnix())).dump();
    return req;
  }
  HttpReply issued = http_.Call("POST", base + "/v1/nonce", "{}");
  if (issued.status != 200) {
    return Unavailable("POST /v1/nonce: " + std::to_string(issued.status) + " " + issued.error +
                       issued.body);
  }
  Json j = Json::parse(issued.body, nullptr, false);
  if (!j.is_object() || !j.contains("nonce") || !j["nonce"].is_string()) {
    return Internal("POST /v1/nonce answered no nonce: " + issued.body);
  }
  KMRA_ASSIGN_OR_RETURN(std::vector<uint8_t> nonce, Base64Decode(j["nonce"].get<std::string>()));
  req.path = "/v1/keys/" + key_id + "/release";
  req.body = enclave_.V1Body(nonce).dump();
  return req;
}

HttpReply ReleaseClient::Send(const std::string& base, const ReleaseRequest& request) {
  return http_.Call("POST", base + request.path, request.body);
}

Result<std::string> ReleaseClient::Check(const ReleaseRequest& request, const HttpReply& reply,
                                         int* version) const {
  if (reply.status != 200) {
    return FailedPrecondition("release answered " + std::to_string(reply.status) + " " +
                              reply.error + reply.body.substr(0, 300));
  }
  const bool kmra = request.api == Api::kKmra;
  const std::string problem =
      kmra ? enclave_.CheckKmraReply(reply.body) : enclave_.CheckV1Reply(reply.body);
  if (!problem.empty()) return FailedPrecondition(problem);
  Json j = Json::parse(reply.body, nullptr, false);
  if (kmra) return j.value("certificate", "");
  if (version != nullptr) *version = j.value("version", 0);
  return j.value("certificate_chain", "");
}

}  // namespace kmra::scaleout
