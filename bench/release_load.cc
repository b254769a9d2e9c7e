// Load generator for the key server's release path: N concurrent mutual-TLS keep-alive clients
// (libcurl multi) POST /sgx/keys/export with fresh quotes from a simulated platform, and report
// releases per second and p50/p99 latency per concurrency level. Quotes (one per request, each over a
// fresh KMRA nonce) are made before the timed run, so the figures are the server's.
//
//   kmra server --dev --dir DIR --listen 127.0.0.1:0 &
//   release_load --dir DIR [--key demo] [--clients 1,8,64] [--requests 400] [--platform 1]
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/file.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "enclave/factory.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string dir;
  std::string key = "demo";
  std::vector<int> clients = {1, 8, 64};
  int requests = 400;  // per level
  int platform = 1;
};

struct Slot {
  CURL* easy = nullptr;
  std::string body;
  std::string response;
  Clock::time_point started;
};

size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--dir") o.dir = v;
    else if (a == "--key") o.key = v;
    else if (a == "--requests") o.requests = std::stoi(v);
    else if (a == "--platform") o.platform = std::stoi(v);
    else if (a == "--clients") {
      o.clients.clear();
      size_t pos = 0;
      while (pos < v.size()) {
        size_t comma = v.find(',', pos);
        o.clients.push_back(std::stoi(v.substr(pos, comma - pos)));
        pos = comma == std::string::npos ? v.size() : comma + 1;
      }
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.dir.empty()) {
    std::fprintf(stderr, "usage: release_load --dir DIR [--key ID] [--clients 1,8,64] "
                         "[--requests N] [--platform N]\n");
    return 2;
  }
  auto port = kmra::ReadFileText(o.dir + "/server.port");
  if (!port) {
    std::fprintf(stderr, "no %s/server.port: start kmra server --dev --dir %s first\n",
                 o.dir.c_str(), o.dir.c_str());
    return 2;
  }
  std::string url = "https://127.0.0.1:" + std::string(port->substr(0, port->find('\n'))) +
                    "/sgx/keys/export";

  // The client key and platform, as a token would have them.
  auto key = kmra::crypto::GenerateRsaKey(3072);
  auto pub = kmra::crypto::RsaPublicNumbersOf(*key->PublicKey());
  kmra::enclave::PlatformConfig pc;
  pc.kind = "sim";
  pc.platform_dir = o.dir + "/sgx/platform-" + std::to_string(o.platform);
  auto platform = kmra::enclave::OpenPlatform(pc);
  if (!platform) {
    std::fprintf(stderr, "platform: %s\n", platform.error().ToString().c_str());
    return 1;
  }
  auto make_body = [&]() {
    std::vector<uint8_t> nonce = *kmra::crypto::RandomBytes(28);
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    for (int i = 0; i < 4; ++i) nonce.push_back(static_cast<uint8_t>(now >> (8 * i)));
    std::vector<uint8_t> bound = pub->exponent;
    bound.insert(bound.end(), pub->modulus.begin(), pub->modulus.end());
    bound.insert(bound.end(), nonce.begin(), nonce.end());
    auto digest = kmra::crypto::Sha256(bound);
    std::array<uint8_t, 64> rd{};
    std::copy(digest.begin(), digest.end(), rd.begin());
    auto quote = (*platform)->Quote(rd);
    nlohmann::json j = {
        {"HsmObject", {{"h_unique_id", o.key}}},
        {"SgxObject",
         {{"RsaPublicKey",
           {{"ExponentLen", pub->exponent.size()},
            {"Exponent", kmra::Base64Encode(pub->exponent)},
            {"ModulusLen", pub->modulus.size()},
            {"Modulus", kmra::Base64Encode(pub->modulus)}}},
          {"SgxQuote", kmra::Base64Encode(*quote)},
          {"SgxQuoteNonce", kmra::Base64Encode(nonce)}}}};
    return j.dump();
  };

  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::string ca = o.dir + "/tls/ca.pem", cert = o.dir + "/tls/client.pem",
              ckey = o.dir + "/tls/client.key";
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::printf("| clients | releases | errors | releases/s | p50 ms | p99 ms |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (int n : o.clients) {
    std::vector<std::string> bodies;
    bodies.reserve(o.requests);
    for (int i = 0; i < o.requests; ++i) bodies.push_back(make_body());
    CURLM* multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(n));
    std::vector<Slot> slots(static_cast<size_t>(n));
    std::vector<double> latencies;
    int next = 0, errors = 0, done = 0;
    auto start_one = [&](Slot& s) {
      if (next >= o.requests) return false;
      s.body = std::move(bodies[static_cast<size_t>(next++)]);
      s.response.clear();
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDS, s.body.c_str());
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(s.body.size()));
      s.started = Clock::now();
      curl_multi_add_handle(multi, s.easy);
      return true;
    };
    for (auto& s : slots) {
      s.easy = curl_easy_init();
      curl_easy_setopt(s.easy, CURLOPT_URL, url.c_str());
      curl_easy_setopt(s.easy, CURLOPT_CAINFO, ca.c_str());
      curl_easy_setopt(s.easy, CURLOPT_SSLCERT, cert.c_str());
      curl_easy_setopt(s.easy, CURLOPT_SSLKEY, ckey.c_str());
      curl_easy_setopt(s.easy, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, Collect);
      curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s.response);
      curl_easy_setopt(s.easy, CURLOPT_PRIVATE, &s);
      curl_easy_setopt(s.easy, CURLOPT_TCP_KEEPALIVE, 1L);
    }
    auto t0 = Clock::now();
    for (auto& s : slots) start_one(s);
    int running = 1;
    while (running || done < next) {
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Slot* s = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &s);
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        ++done;
        if (msg->data.result != CURLE_OK || status != 200 ||
            s->response.find("wrappedKey") == std::string::npos) {
          if (errors++ < 3) {
            std::fprintf(stderr, "error: curl %d status %ld %s\n", msg->data.result, status,
                         s->response.substr(0, 200).c_str());
          }
        } else {
          latencies.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - s->started).count());
        }
        curl_multi_remove_handle(multi, s->easy);  // the connection stays in the multi's cache
        start_one(*s);
      }
      if (done >= o.requests) break;
      curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    }
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
      if (latencies.empty()) return 0.0;
      return latencies[std::min(latencies.size() - 1,
                                static_cast<size_t>(p * static_cast<double>(latencies.size())))];
    };
    std::printf("| %d | %zu | %d | %.0f | %.1f | %.1f |\n", n, latencies.size(), errors,
                static_cast<double>(latencies.size()) / seconds, pct(0.50), pct(0.99));
    std::fflush(stdout);
    for (auto& s : slots) curl_easy_cleanup(s.easy);
    curl_multi_cleanup(multi);
  }
  curl_slist_free_all(headers);
  return 0;
}
