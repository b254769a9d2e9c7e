// Floods an outsider can send without a single valid byte: thousands of silent connections from one
// address, and enough silent connections from many addresses to exhaust the server's file
// descriptors. The legitimate client must keep being served (within 1 s per step), the server must
// not spin while saturated, and it must serve again once the flood ends. PROXY protocol v2 is read
// only from the trusted peer, and the per-address caps then apply to the address it names.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "security/edge/edge_client.h"

namespace kmra::edge {
namespace {

using Json = nlohmann::json;

void RaiseOwnFileLimit() {
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
}

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

bool Legit(DevServer& s, int timeout_ms = 1000) {
  return Request(s.port(), "GET", "/sys/version", s.Cert("client"), s.Key("client"), "127.0.0.1",
                 timeout_ms)
             .status == 200;
}

TEST(EdgeLoadTest, FiveThousandSilentConnectionsFromOneAddressDoNotShutOthersOut) {
  RaiseOwnFileLimit();
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < 5200) {
    GTEST_SKIP() << "this process may open only " << files.rlim_cur
                 << " files (hard RLIMIT_NOFILE); the flood needs 5,000 sockets";
  }
  DevServer s;
  ASSERT_TRUE(s.ok()) << s.Log();
  std::vector<int> silent;
  int asked = 0, served = 0;
  for (int batch = 0; batch < 10; ++batch) {
    for (int i = 0; i < 500; ++i) {
      int fd = OpenSilent(s.port(), "127.0.0.2");
      if (fd >= 0) silent.push_back(fd);
    }
    ++asked;
    served += Legit(s);
  }
  for (int i = 0; i < 10; ++i) {  // while the admitted ones wait out their first-bytes deadline
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ++asked;
    served += Legit(s);
  }
  std::printf("[ figures  ] legitimate client served within 1 s: %d of %d, during %zu silent\n",
              served, asked, silent.size());
  EXPECT_EQ(silent.size(), 5000u);
  EXPECT_EQ(served, asked) << "the legitimate client was refused or slower than 1 s "
                           << asked - served << " times in " << asked;
  const double refused = s.Metric("kmra_connections_refused_total{reason=\"rate\"}") +
                         s.Metric("kmra_connections_refused_total{reason=\"per_address\"}");
  EXPECT_GT(refused, 4000) << "admission control did not refuse the flood";
  EXPECT_GT(s.Metric("kmra_connection_errors_total{reason=\"first_bytes_timeout\"}"), 0);
  CloseAll(silent);
  EXPECT_TRUE(Legit(s, 5000));
}

int OpenFiles(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

TEST(EdgeLoadTest, OutOfFileDescriptorsTheServerWaitsInsteadOfSpinningAndRecovers) {
  RaiseOwnFileLimit();
  // Silent connections are kept for a minute here, so the server stays saturated while measured.
  DevServer s("first_bytes_timeout_ms = 60000", 256);
  ASSERT_TRUE(s.ok()) << s.Log();
  ASSERT_TRUE(Legit(s, 5000));
  std::vector<int> silent;
  for (int i = 0; i < 400; ++i) {  // two from each of 200 addresses: under the per-address caps
    int fd = OpenSilent(s.port(), "127.0.1." + std::to_string(1 + i / 2));
    if (fd >= 0) silent.push_back(fd);
  }
  ASSERT_EQ(silent.size(), 400u);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int open_files = OpenFiles(s.pid());
  EXPECT_GE(open_files, 240) << "the server did not reach its open-files limit of 256";
  const double cpu_before = CpuSeconds(s.pid());
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const double cpu = CpuSeconds(s.pid()) - cpu_before;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ figures  ] saturated server (%d open files): %.3f s CPU in %.2f s\n", open_files,
              cpu, wall);
  EXPECT_LT(cpu / wall, 0.10) << "server CPU while saturated: " << cpu << " s in " << wall << " s ("
                              << open_files << " open files)";
  CloseAll(silent);
  bool served = false;
  for (int i = 0; i < 40 && !served; ++i) {
    served = Legit(s, 2000);
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(served) << s.Log();
  EXPECT_GT(s.Metric("kmra_accept_errors_total{reason=\"emfile\"}"), 0);
  // /readyz says the edge was saturated a moment ago.
  HttpReply ready = Request(s.port(), "GET", "/readyz");
  Json body = Json::parse(ready.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << ready.body;
  EXPECT_EQ(body["checks"]["connections"]["ok"], false) << ready.body;
  EXPECT_EQ(body["checks"]["connections"]["open_files_limit"], 256) << ready.body;
}

// A PROXY protocol v2 header (TCP over IPv4) naming `source`:`port` as the client.
std::string ProxyV2(const std::string& source, uint16_t port) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += '\x21';  // version 2, PROXY
  h += '\x11';  // TCP over IPv4
  h += std::string("\x00\x0c", 2);
  unsigned char src[4], dst[4];
  inet_pton(AF_INET, source.c_str(), src);
  inet_pton(AF_INET, "127.0.0.1", dst);
  h.append(reinterpret_cast<char*>(src), 4);
  h.append(reinterpret_cast<char*>(dst), 4);
  h += static_cast<char>(port >> 8);
  h += static_cast<char>(port & 0xff);
  h += std::string("\x20\xfb", 2);
  return h;
}

TEST(EdgeLoadTest, ProxyHeadersAreReadOnlyFromTheTrustedPeerAndItsAddressIsCapped) {
  DevServer s(
      "proxy_protocol = true\nproxy_trusted_peers = [\"127.0.0.5\"]\n"
      "max_connections_per_address = 2");
  ASSERT_TRUE(s.ok()) << s.Log();
  // Through the trusted proxy, the client is the address in the header: it is what the audit
  // records for an anonymous refusal.
  TlsClient proxied;
  ASSERT_TRUE(proxied.Connect(s.port(), "127.0.0.5", s.Cert("client"), s.Key("client"), 5000,
                              ProxyV2("198.51.100.7", 40001)));
  proxied.Send("GET /sys/version HTTP/1.1\r\nHost: k\r\n\r\n");
  EXPECT_EQ(proxied.Read().status, 200);
  TlsClient anonymous;
  ASSERT_TRUE(
      anonymous.Connect(s.port(), "127.0.0.5", "", "", 5000, ProxyV2("198.51.100.8", 40002)));
  anonymous.Send("GET /v1/keys HTTP/1.1\r\nHost: k\r\n\r\n");
  EXPECT_EQ(anonymous.Read().status, 401);
  HttpReply audit = s.Admin("/v1/audit?limit=1000");
  EXPECT_NE(audit.body.find("198.51.100.8:40002"), std::string::npos) << audit.body;

  // The trusted peer without a header, and anyone else with one, get no TLS session.
  TlsClient bare, spoofed;
  EXPECT_FALSE(bare.Connect(s.port(), "127.0.0.5", s.Cert("client"), s.Key("client"), 5000));
  EXPECT_FALSE(spoofed.Connect(s.port(), "127.0.0.6", s.Cert("client"), s.Key("client"), 5000,
                               ProxyV2("198.51.100.7", 40003)));
  EXPECT_GE(s.Metric("kmra_connection_errors_total{reason=\"proxy_header\"}"), 1);
  EXPECT_TRUE(Legit(s, 5000));  // directly from an untrusted peer: served as itself

  // max_connections_per_address = 2 counts the PROXY address, not the proxy.
  std::vector<TlsClient> held(2);
  for (auto& c : held) {
    ASSERT_TRUE(c.Connect(s.port(), "127.0.0.5", s.Cert("client"), s.Key("client"), 5000,
                          ProxyV2("198.51.100.9", 40010)));
  }
  TlsClient third, other;
  EXPECT_FALSE(third.Connect(s.port(), "127.0.0.5", s.Cert("client"), s.Key("client"), 5000,
                             ProxyV2("198.51.100.9", 40011)));
  ASSERT_TRUE(other.Connect(s.port(), "127.0.0.5", s.Cert("client"), s.Key("client"), 5000,
                            ProxyV2("198.51.100.10", 40012)));
  other.Send("GET /sys/version HTTP/1.1\r\nHost: k\r\n\r\n");
  EXPECT_EQ(other.Read().status, 200);
  EXPECT_GE(s.Metric("kmra_connections_refused_total{reason=\"per_address\"}"), 1);
}

}  // namespace
}  // namespace kmra::edge
