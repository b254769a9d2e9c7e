// Load generator for the key server's release path: N concurrent mutual-TLS keep-alive clients
// (libcurl multi) POST /sgx/keys/export with fresh quotes from a simulated platform, and report
// releases per second and p50/p99 latency per concurrency level. Quotes (one per request, each over a
// fresh KMRA nonce) are made before the timed run, so the figures are the server's. Every connection
// makes one release before the clock starts (the mutual-TLS handshakes are not part of the figures).
//
// Two ways to load the server:
// - closed loop (default): each client sends its next request as soon as the previous one is
//   answered; this finds the most releases per second, and latency is then clients / throughput.
// - open loop (--rate R): requests are due at R per second in total, spread over the clients; a
//   request's latency runs from when it was due, so time spent waiting for a free client counts
//   (no coordinated omission). This is the latency a fleet sending R releases per second sees.
//
// With --server-pid the server's CPU time per release is reported as well (from /proc); a list of
// pids (replicas behind a load balancer) reports their sum. The URL is https://127.0.0.1:PORT with
// PORT from DIR/server.port (scripts/scale-out writes HAProxy's port there), or --url. With
// --beside, each level runs once per listed load beside it (bench/lib/beside_load.h: none,
// audit-verify, abuse:R), so their effect on the releases is seen in the same run.
//
//   kmra server --dev --dir DIR --listen 127.0.0.1:0 &
//   release_load --dir DIR [--key demo] [--clients 1,8,64] [--requests 400] [--rate 500]
//                [--platform 1] [--server-pid PID[,PID...]] [--url https://HOST:PORT]
//                [--beside none,audit-verify,abuse:200]
#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/file.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "enclave/factory.h"
#include "lib/beside_load.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string dir;
  std::string key = "demo";
  std::vector<int> clients = {1, 8, 64};
  int requests = 400;  // per level
  int platform = 1;
  double rate = 0;  // requests per second in total; 0: closed loop
  std::vector<int> server_pids;
  std::string url;  // "": https://127.0.0.1:<DIR/server.port>
  std::vector<std::string> beside = {"none"};
};

// User + system CPU seconds of a process, or -1.
double CpuSecondsOf(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The sum over `pids`, or -1 when there are none or one cannot be read.
double CpuSeconds(const std::vector<int>& pids) {
  double sum = 0;
  for (int pid : pids) {
    const double s = CpuSecondsOf(pid);
    if (s < 0) return -1;
    sum += s;
  }
  return pids.empty() ? -1 : sum;
}

// "1,8,64" -> {1, 8, 64}
std::vector<int> IntList(const std::string& v) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos < v.size()) {
    size_t comma = v.find(',', pos);
    out.push_back(std::stoi(v.substr(pos, comma - pos)));
    pos = comma == std::string::npos ? v.size() : comma + 1;
  }
  return out;
}

struct Slot {
  CURL* easy = nullptr;
  std::string body;
  std::string response;
  Clock::time_point started;  // when the request was due (open loop) or sent (closed loop)
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
    else if (a == "--rate") o.rate = std::stod(v);
    else if (a == "--server-pid") o.server_pids = IntList(v);
    else if (a == "--url") o.url = v;
    else if (a == "--beside") {
      o.beside.clear();
      std::stringstream list(v);
      for (std::string kind; std::getline(list, kind, ',');) {
        if (!kmra::bench::BesideLoad::Valid(kind)) {
          std::fprintf(stderr, "--beside: '%s' is not none, audit-verify or abuse:RATE\n",
                       kind.c_str());
          return 2;
        }
        o.beside.push_back(kind);
      }
    }
    else if (a == "--clients") o.clients = IntList(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.dir.empty()) {
    std::fprintf(stderr, "usage: release_load --dir DIR [--key ID] [--clients 1,8,64] "
                         "[--requests N] [--rate R] [--platform N] [--server-pid PID[,PID...]] "
                         "[--url https://HOST:PORT] [--beside none,audit-verify,abuse:R]\n");
    return 2;
  }
  if (o.url.empty()) {
    auto port = kmra::ReadFileText(o.dir + "/server.port");
    if (!port) {
      std::fprintf(stderr, "no %s/server.port: start kmra server --dev --dir %s first\n",
                   o.dir.c_str(), o.dir.c_str());
      return 2;
    }
    o.url = "https://127.0.0.1:" + std::string(port->substr(0, port->find('\n')));
  }
  std::string url = o.url + "/sgx/keys/export";

  // The client key and platform, as a token would have them.
  auto key = kmra::crypto::GenerateRsaKey(3072);
  auto pub = kmra::crypto::RsaPublicNumbersOf(*key->PublicKey());
  kmra::enclave::PlatformConfig pc;
  pc.kind = "sim";
  pc.platform_dir = o.dir + "/sgx/platform-" + std::to_string(o.platform);
  // The demo key's policy (kmra server --dev) names the token module's MRENCLAVE.
  pc.mrenclave_of = KMRA_TOKEN_MODULE;
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
  std::printf("| clients | mode | beside | releases | errors | releases/s | p50 ms | p99 ms | "
              "server CPU/release | beside did |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  std::vector<std::pair<int, std::string>> levels;  // (clients, load beside)
  for (int n : o.clients) {
    for (const std::string& kind : o.beside) levels.emplace_back(n, kind);
  }
  for (const auto& level : levels) {
    const int n = level.first;
    const std::string& beside_kind = level.second;
    // One warm-up release per connection, then the measured ones.
    const int total = o.requests + n;
    std::vector<std::string> bodies;
    bodies.reserve(static_cast<size_t>(total));
    for (int i = 0; i < total; ++i) bodies.push_back(make_body());
    CURLM* multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(n));
    std::vector<Slot> slots(static_cast<size_t>(n));
    std::vector<Slot*> idle;
    std::vector<double> latencies;
    int next = 0, errors = 0;
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
    auto start = [&](Slot& s, Clock::time_point due) {
      s.body = std::move(bodies[static_cast<size_t>(next++)]);
      s.response.clear();
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDS, s.body.c_str());
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(s.body.size()));
      s.started = due;
      curl_multi_add_handle(multi, s.easy);
    };
    // Runs until `until` requests have been started and answered; `measure` records latencies.
    auto drive = [&](int until, bool measure, bool paced, Clock::time_point t0) {
      auto due_of = [&](int i) {
        return t0 + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>((i - n) / o.rate));
      };
      int done = 0, started = 0;
      const int first = next;
      for (;;) {
        while (!idle.empty() && next < until && (!paced || Clock::now() >= due_of(next))) {
          Slot* s = idle.back();
          idle.pop_back();
          start(*s, paced ? due_of(next) : Clock::now());
          ++started;
        }
        int running = 0;
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
          } else if (measure) {
            latencies.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - s->started).count());
          }
          curl_multi_remove_handle(multi, s->easy);  // the connection stays in the multi's cache
          idle.push_back(s);
        }
        if (done >= until - first) break;
        int wait_ms = 100;
        if (!paced && next < until && !idle.empty()) {
          wait_ms = 0;  // a client is free and work is waiting: start it now
        } else if (paced && next < until && !idle.empty()) {
          auto ahead = std::chrono::duration_cast<std::chrono::milliseconds>(due_of(next) -
                                                                             Clock::now());
          wait_ms = static_cast<int>(std::clamp<long>(ahead.count(), 0, 100));
        }
        curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
      }
    };
    for (auto& s : slots) idle.push_back(&s);
    drive(n, false, false, Clock::now());  // warm-up: every connection handshakes once
    errors = 0;
    kmra::bench::BesideLoad beside(beside_kind, o.dir, o.url);
    beside.Start();
    const double cpu0 = CpuSeconds(o.server_pids);
    const auto t0 = Clock::now();
    drive(total, true, o.rate > 0, t0);
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu1 = CpuSeconds(o.server_pids);
    beside.Stop();
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
      if (latencies.empty()) return 0.0;
      return latencies[std::min(latencies.size() - 1,
                                static_cast<size_t>(p * static_cast<double>(latencies.size())))];
    };
    std::string mode = o.rate > 0 ? "open " + std::to_string(static_cast<int>(o.rate)) + "/s"
                                  : "closed";
    std::string cpu = "-";
    if (cpu0 >= 0 && cpu1 >= 0 && !latencies.empty()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f ms",
                    1000.0 * (cpu1 - cpu0) / static_cast<double>(latencies.size()));
      cpu = buf;
    }
    std::printf("| %d | %s | %s | %zu | %d | %.0f | %.1f | %.1f | %s | %s |\n", n, mode.c_str(),
                beside_kind.c_str(), latencies.size(), errors,
                static_cast<double>(latencies.size()) / seconds, pct(0.50), pct(0.99), cpu.c_str(),
                beside.Summary(seconds).c_str());
    std::fflush(stdout);
    for (auto& s : slots) curl_easy_cleanup(s.easy);
    curl_multi_cleanup(multi);
  }
  curl_slist_free_all(headers);
  return 0;
}
