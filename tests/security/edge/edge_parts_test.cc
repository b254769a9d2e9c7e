// The edge's parts with bytes an attacker chooses: HttpExchange (what the listener runs after TLS),
// the admission table, the PROXY v2 parser and the limiter of anonymous refusal records. Each test
// also checks that the legitimate input still goes through.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iterator>

#include "server/admission.h"
#include "server/audit.h"
#include "server/config.h"
#include "server/http_exchange.h"
#include "server/proxy_protocol.h"

namespace kmra::server {
namespace {

struct Echo {
  int calls = 0;
  std::string last_body;
  std::size_t last_headers = 0;
  Handler handler = [this](Request& r) {
    ++calls;
    last_body = r.body;
    last_headers = r.headers.size();
    return Response{200, "text/plain", "ok:" + r.method, {{"X-Echo", "a\r\nInjected: yes"}}};
  };
};

ClientIdentity Anonymous() { return {}; }

std::string Chunked(const std::string& trailer) {
  return "POST /x HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" +
         trailer + "\r\n";
}

TEST(HttpExchangeTest, TrailersCountAgainstTheHeaderLimit) {
  Echo echo;
  // 40 KB of trailer with a 16 KB limit: 431, and the handler is never called.
  HttpExchange big({1 << 20, 16 << 10}, &echo.handler, "r", Anonymous());
  ExchangeOutput out = big.Feed(Chunked("X-T: " + std::string(40'000, 'a') + "\r\n"));
  EXPECT_EQ(out.bytes.rfind("HTTP/1.1 431 ", 0), 0u) << out.bytes.substr(0, 80);
  EXPECT_TRUE(out.close);
  EXPECT_EQ(out.error, "headers_too_large");
  // Many small trailer fields add up too.
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  HttpExchange fields({1 << 20, 16 << 10}, &echo.handler, "r", Anonymous());
  EXPECT_EQ(fields.Feed(Chunked(many)).bytes.rfind("HTTP/1.1 431 ", 0), 0u);
  EXPECT_EQ(echo.calls, 0);
  // A 65,535-byte trailer value under a limit that allows it: no exception, the request is served.
  HttpExchange allowed({1 << 20, 1 << 20}, &echo.handler, "r", Anonymous());
  out = allowed.Feed(Chunked("X-T: " + std::string(65'535, 'a') + "\r\n"));
  EXPECT_EQ(out.bytes.rfind("HTTP/1.1 200 ", 0), 0u) << out.bytes.substr(0, 80);
  EXPECT_EQ(echo.last_body, "abc");
  EXPECT_EQ(echo.last_headers, 2u) << "trailer fields must not be merged into the headers";
}

TEST(HttpExchangeTest, AnEndlessTrailerIsCutAtTheLimitNotBuffered) {
  Echo echo;
  HttpExchange ex({1 << 20, 16 << 10}, &echo.handler, "r", Anonymous());
  std::string start = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ";
  ExchangeOutput out = ex.Feed(start);
  EXPECT_TRUE(out.bytes.empty());
  for (int i = 0; i < 100 && !out.close; ++i) out = ex.Feed(std::string(1024, 'a'));
  EXPECT_TRUE(out.close);
  EXPECT_EQ(out.bytes.rfind("HTTP/1.1 431 ", 0), 0u);
  EXPECT_TRUE(ex.Feed("more").bytes.empty());  // closed: nothing more is parsed
}

TEST(HttpExchangeTest, PipelinedRequestsSplitAnywhereAreAnsweredInOrder) {
  Echo echo;
  HttpExchange ex({1 << 20, 16 << 10}, &echo.handler, "r", Anonymous());
  const std::string requests =
      "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzHEAD /c "
      "HTTP/1.1\r\n\r\n";
  std::string answer;
  for (char c : requests) answer += ex.Feed(std::string(1, c)).bytes;
  EXPECT_EQ(echo.calls, 3);
  EXPECT_NE(answer.find("ok:GET"), std::string::npos);
  EXPECT_NE(answer.find("ok:POST"), std::string::npos);
  EXPECT_EQ(answer.find("ok:HEAD"), std::string::npos) << "a HEAD answer has no body";
  // A header value cannot inject a header line.
  EXPECT_EQ(answer.find("\r\nInjected: yes"), std::string::npos);
  EXPECT_FALSE(ex.MidRequest());
}

TEST(HttpExchangeTest, BadBytesAndOversizedBodiesGetAnErrorAndClose) {
  Echo echo;
  HttpExchange bad({1 << 20, 16 << 10}, &echo.handler, "r", Anonymous());
  ExchangeOutput out = bad.Feed(std::string("GET / HTTP/1.1\r\nBad\x01Header: x\r\n\r\n"));
  EXPECT_EQ(out.bytes.rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(out.error, "bad_http");
  HttpExchange body({100, 16 << 10}, &echo.handler, "r", Anonymous());
  out = body.Feed("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
  EXPECT_EQ(out.bytes.rfind("HTTP/1.1 413 ", 0), 0u);
  HttpExchange chunks({100, 16 << 10}, &echo.handler, "r", Anonymous());
  out = chunks.Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" +
                    std::string(64, 'a') + "\r\n40\r\n");
  EXPECT_EQ(out.bytes.rfind("HTTP/1.1 413 ", 0), 0u) << out.bytes.substr(0, 60);
  EXPECT_EQ(echo.calls, 0);
  HttpExchange fine({100, 16 << 10}, &echo.handler, "r", Anonymous());
  out = fine.Feed("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'));
  EXPECT_EQ(out.bytes.rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST(AdmissionTableTest, CapsConcurrentAndNewConnectionsPerAddress) {
  using Clock = AdmissionTable::Clock;
  AdmissionTable table({3, 5});
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(table.Admit("10.0.0.1", t0), AdmissionTable::Verdict::kAdmit);
  EXPECT_EQ(table.Admit("10.0.0.1", t0), AdmissionTable::Verdict::kPerAddress);
  EXPECT_EQ(table.Admit("10.0.0.2", t0), AdmissionTable::Verdict::kAdmit);  // others unaffected
  for (int i = 0; i < 3; ++i) table.Release("10.0.0.1");
  EXPECT_EQ(table.Admit("10.0.0.1", t0), AdmissionTable::Verdict::kAdmit);
  EXPECT_EQ(table.Admit("10.0.0.1", t0), AdmissionTable::Verdict::kAdmit);
  EXPECT_EQ(table.Admit("10.0.0.1", t0), AdmissionTable::Verdict::kRate);  // 5 new in no time
  table.Release("10.0.0.1");
  EXPECT_EQ(table.Admit("10.0.0.1", t0 + std::chrono::milliseconds(250)),
            AdmissionTable::Verdict::kAdmit);  // refilled at 5/s
}

TEST(AdmissionTableTest, ManyAddressesDoNotGrowTheTableForEver) {
  using Clock = AdmissionTable::Clock;
  AdmissionTable table({4, 10});
  auto t = Clock::now();
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5000; ++i) {
      const std::string a = "10." + std::to_string(round) + "." + std::to_string(i / 256) + "." +
                            std::to_string(i % 256);
      if (table.Admit(a, t) == AdmissionTable::Verdict::kAdmit) table.Release(a);
    }
    t += std::chrono::seconds(2);
  }
  EXPECT_LT(table.Tracked(), 10'001u);
}

std::vector<std::uint8_t> Header(std::uint8_t ver_cmd, std::uint8_t family,
                                 std::vector<std::uint8_t> body) {
  std::vector<std::uint8_t> h = {0x0D,
                                 0x0A,
                                 0x0D,
                                 0x0A,
                                 0x00,
                                 0x0D,
                                 0x0A,
                                 0x51,
                                 0x55,
                                 0x49,
                                 0x54,
                                 0x0A,
                                 ver_cmd,
                                 family,
                                 static_cast<std::uint8_t>(body.size() >> 8),
                                 static_cast<std::uint8_t>(body.size())};
  // Appended element by element: GCC 12 at -O2 misreads a range insert after the initializer list
  // as a read past its 16 bytes (-Warray-bounds, a false positive).
  std::copy(body.begin(), body.end(), std::back_inserter(h));
  return h;
}

TEST(ProxyProtocolTest, ReadsV2AddressesAndRefusesEverythingElse) {
  auto v4 =
      ParseProxyV2(Header(0x21, 0x11, {198, 51, 100, 7, 127, 0, 0, 1, 0x9c, 0x41, 0x20, 0xfb}));
  ASSERT_TRUE(v4.has_value()) << v4.error().ToString();
  EXPECT_EQ(v4->source_address, "198.51.100.7");
  EXPECT_EQ(v4->source_port, 40001);
  std::vector<std::uint8_t> six(36, 0);
  six[15] = 1;
  auto v6 = ParseProxyV2(Header(0x21, 0x21, six));
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->source_address, "::1");
  auto local = ParseProxyV2(Header(0x20, 0x00, {}));
  ASSERT_TRUE(local.has_value());
  EXPECT_TRUE(local->local);

  const std::string v1 = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
  EXPECT_FALSE(ProxyV2BodyLength(std::vector<std::uint8_t>(v1.begin(), v1.end())).has_value());
  EXPECT_FALSE(ParseProxyV2(Header(0x31, 0x11, std::vector<std::uint8_t>(12))).has_value());
  EXPECT_FALSE(ParseProxyV2(Header(0x22, 0x11, std::vector<std::uint8_t>(12))).has_value());
  EXPECT_FALSE(ParseProxyV2(Header(0x21, 0x11, std::vector<std::uint8_t>(8))).has_value());
  EXPECT_FALSE(ParseProxyV2(Header(0x21, 0x31, std::vector<std::uint8_t>(216))).has_value());
  auto huge = Header(0x21, 0x11, {});
  huge[14] = 0xff;
  EXPECT_FALSE(ProxyV2BodyLength(huge).has_value());
}

TEST(AnonymousRefusalLimiterTest, RecordsNPerMinutePerAddressThenOneSummary) {
  AnonymousRefusalLimiter limiter(10);
  std::vector<AnonymousRefusalLimiter::Summary> due;
  int recorded = 0;
  for (int i = 0; i < 3000; ++i) recorded += limiter.Admit("203.0.113.5", 1000, &due);
  EXPECT_EQ(recorded, 10);
  EXPECT_TRUE(due.empty());
  EXPECT_TRUE(limiter.Admit("203.0.113.6", 1001, &due));  // another address has its own budget
  // A minute later: one summary with the count, and a fresh budget.
  EXPECT_TRUE(limiter.Admit("203.0.113.5", 1061, &due));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].address, "203.0.113.5");
  EXPECT_EQ(due[0].suppressed, 2990u);
}

TEST(AnonymousRefusalLimiterTest, ManyAddressesShareATotalBudget) {
  AnonymousRefusalLimiter limiter(2);
  std::vector<AnonymousRefusalLimiter::Summary> due;
  int recorded = 0;
  for (int i = 0; i < 10'000; ++i) {
    recorded += limiter.Admit("198.18." + std::to_string(i / 256) + "." + std::to_string(i % 256),
                              5000, &due);
  }
  EXPECT_EQ(recorded, 120);  // 60 x 2 per minute in all
  limiter.Admit("192.0.2.1", 5061, &due);
  std::uint64_t summed = 0;
  for (const auto& s : due) summed += s.suppressed;
  EXPECT_EQ(summed, 10'000u - 120u);
}

TEST(EdgeConfigTest, PROXYHeadersNeedNamedTrustedPeers) {
  auto ok = ParseServerConfig(
      "[listen]\nmax_connections = 100\nmax_connections_per_address = 5\n"
      "new_connections_per_second_per_address = 7\nfirst_bytes_timeout_ms = 500\n"
      "proxy_protocol = true\nproxy_trusted_peers = [\"10.0.0.5\", \"fd00::5\"]\n"
      "anonymous_audit_per_minute = 3\n",
      "");
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->max_connections, 100u);
  EXPECT_EQ(ok->max_connections_per_address, 5u);
  EXPECT_EQ(ok->new_connections_per_second_per_address, 7u);
  EXPECT_EQ(ok->first_bytes_timeout_ms, 500);
  EXPECT_EQ(ok->proxy_trusted_peers.size(), 2u);
  EXPECT_EQ(ok->anonymous_audit_per_minute, 3u);
  // Without named peers anyone could claim any address; a range or a name is not an address.
  for (const char* bad :
       {"[listen]\nproxy_protocol = true\n",
        "[listen]\nproxy_protocol = true\nproxy_trusted_peers = [\"10.0.0.0/8\"]\n",
        "[listen]\nproxy_trusted_peers = [\"10.0.0.5\"]\n",
        "[listen]\nfirst_bytes_timeout_ms = 0\n", "[listen]\nmax_connections = 0\n"}) {
    auto refused = ParseServerConfig(bad, "");
    ASSERT_FALSE(refused.has_value()) << bad;
    EXPECT_NE(refused.error().message().find("[listen]"), std::string::npos)
        << refused.error().message();
  }
}

}  // namespace
}  // namespace kmra::server
