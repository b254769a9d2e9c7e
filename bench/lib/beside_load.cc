#include "beside_load.h"

#include <curl/curl.h>

#include <chrono>
#include <string>

namespace kmra::bench {
namespace {

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

using Clock = std::chrono::steady_clock;

}  // namespace

BesideLoad::BesideLoad(std::string kind, std::string dir, std::string base_url)
    : kind_(std::move(kind)), dir_(std::move(dir)), base_url_(std::move(base_url)) {}

bool BesideLoad::Valid(const std::string& kind) {
  if (kind == "none" || kind == "audit-verify") return true;
  if (kind.rfind("abuse:", 0) != 0) return false;
  try {
    return std::stod(kind.substr(6)) > 0;
  } catch (...) {
    return false;
  }
}

void BesideLoad::Start() {
  if (kind_ == "audit-verify") {
    thread_ = std::thread([this] { AuditVerifyLoop(); });
  } else if (kind_.rfind("abuse:", 0) == 0) {
    const double rate = std::stod(kind_.substr(6));
    thread_ = std::thread([this, rate] { AbuseLoop(rate); });
  }
}

void BesideLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string BesideLoad::Summary(double seconds) const {
  if (kind_ == "audit-verify") {
    return std::to_string(done_.load()) + " verifies" +
           (unexpected_ ? " (" + std::to_string(unexpected_.load()) + " failed)" : "");
  }
  if (kind_.rfind("abuse:", 0) == 0) {
    const long per_second = seconds > 0 ? static_cast<long>(done_.load() / seconds) : 0;
    return std::to_string(done_.load()) + " refused (" + std::to_string(per_second) + "/s)" +
           (unexpected_ ? ", " + std::to_string(unexpected_.load()) + " NOT refused" : "");
  }
  return "-";
}

// One keep-alive administrator connection, verifies back to back.
void BesideLoad::AuditVerifyLoop() {
  CURL* c = curl_easy_init();
  const std::string url = base_url_ + "/v1/audit/verify";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CAINFO, (dir_ + "/tls/ca.pem").c_str());
  curl_easy_setopt(c, CURLOPT_SSLCERT, (dir_ + "/tls/admin.pem").c_str());
  curl_easy_setopt(c, CURLOPT_SSLKEY, (dir_ + "/tls/admin.key").c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  while (!stop_) {
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    (status == 200 ? done_ : unexpected_)++;
  }
  curl_easy_cleanup(c);
}

// A new connection per request, paced at `rate` per second, without a client certificate. A
// refusal is a 401 answer or a handshake the server ends; a 2xx would be a hole.
void BesideLoad::AbuseLoop(double rate) {
  const std::string url = base_url_ + "/v1/keys";
  const auto t0 = Clock::now();
  for (long i = 0; !stop_; ++i) {
    const auto due =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate));
    if (Clock::now() < due) std::this_thread::sleep_until(due);
    CURL* c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CAINFO, (dir_ + "/tls/ca.pem").c_str());
    curl_easy_setopt(c, CURLOPT_INTERFACE, "host!127.0.0.2");
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    (rc != CURLE_OK || status == 401 || status == 403 || status == 429 ? done_ : unexpected_)++;
    curl_easy_cleanup(c);
  }
}

}  // namespace kmra::bench
