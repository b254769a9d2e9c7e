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

// Open loop: a new connection is due every 1/rate seconds whatever happened to the earlier ones
// (up to 256 in flight), each without a client certificate and used for one request. A refusal is
// a 401/403/429 answer or a connection the server ends; a 2xx would be a hole.
void BesideLoad::AbuseLoop(double rate) {
  const std::string url = base_url_ + "/v1/keys";
  const std::string ca = dir_ + "/tls/ca.pem";
  CURLM* multi = curl_multi_init();
  int in_flight = 0;
  const auto t0 = Clock::now();
  long started = 0;
  while (!stop_ || in_flight > 0) {
    const auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(started / rate));
    while (!stop_ && in_flight < 256 && Clock::now() >= due) {
      CURL* c = curl_easy_init();
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_CAINFO, ca.c_str());
      curl_easy_setopt(c, CURLOPT_INTERFACE, "host!127.0.0.2");
      curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
      curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
      curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
      curl_multi_add_handle(multi, c);
      ++in_flight;
      ++started;
      break;  // re-read the clock for the next one
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* c = msg->easy_handle;
      long status = 0;
      if (msg->data.result == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      const bool refused = msg->data.result != CURLE_OK || status == 401 || status == 403 ||
                           status == 429;
      (refused ? done_ : unexpected_)++;
      curl_multi_remove_handle(multi, c);
      curl_easy_cleanup(c);
      --in_flight;
    }
    curl_multi_poll(multi, nullptr, 0, 1, nullptr);
  }
  curl_multi_cleanup(multi);
}

}  // namespace kmra::bench
