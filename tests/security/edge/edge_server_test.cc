// The key server's edge against bytes anyone can send: chunked trailers of every size, made-up
// methods, long anonymous paths, an expired client certificate, PROXY headers. Every test asserts
// the refusal and, in the same test, that a legitimate client is still served.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "security/edge/edge_client.h"

namespace kmra::edge {
namespace {

using Json = nlohmann::json;

class EdgeServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new DevServer(); }
  static void TearDownTestSuite() { delete server_; }
  static DevServer& S() { return *server_; }
  static void ExpectServed() {
    ASSERT_TRUE(S().Running()) << S().Log();
    HttpReply version =
        Request(S().port(), "GET", "/sys/version", S().Cert("client"), S().Key("client"));
    EXPECT_EQ(version.status, 200) << version.body;
  }
  static inline DevServer* server_ = nullptr;
};

std::string ChunkedWithTrailer(const std::string& path, std::size_t trailer_value) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: kmra\r\nTransfer-Encoding: chunked\r\nContent-Type: "
         "application/json\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: " +
         std::string(trailer_value, 'a') + "\r\n\r\n";
}

TEST_F(EdgeServerTest, TrailersOfAnySizeGetA431AndTheServerStaysUp) {
  ASSERT_TRUE(S().ok()) << S().Log();
  // 65,535 bytes used to kill the process (Beast's fields refuse a value of 64 KiB with an
  // exception); 100 KB and 1 MB test the bound on what is buffered.
  for (std::size_t size : {std::size_t{65'535}, std::size_t{100'000}, std::size_t{1'000'000}}) {
    for (bool with_certificate : {false, true}) {
      TlsClient c;
      ASSERT_TRUE(c.Connect(S().port(), "127.0.0.1", with_certificate ? S().Cert("client") : "",
                            with_certificate ? S().Key("client") : "", 10'000));
      c.Send(ChunkedWithTrailer("/v1/keys/demo/release", size));
      HttpReply reply = c.Read();
      EXPECT_EQ(reply.status, 431) << size << " bytes: " << reply.body;
      EXPECT_NE(reply.body.find("headers_too_large"), std::string::npos) << reply.body;
      ExpectServed();
    }
  }
  // A small trailer is still fine: the request reaches the handler.
  TlsClient c;
  ASSERT_TRUE(c.Connect(S().port(), "127.0.0.1", S().Cert("client"), S().Key("client"), 10'000));
  c.Send(ChunkedWithTrailer("/v1/keys/demo/release", 100));
  HttpReply small = c.Read();
  EXPECT_EQ(small.status, 400) << small.body;  // the body {} is not a release request
  EXPECT_GE(S().Metric("kmra_connection_errors_total{reason=\"headers_too_large\"}"), 6);
}

// Number of series (sample lines) in /metrics.
std::size_t Series(DevServer& s) {
  std::istringstream in(s.Admin("/metrics").body);
  std::size_t n = 0;
  std::string line;
  while (std::getline(in, line)) n += !line.empty() && line[0] != '#';
  return n;
}

// Sends `count` requests with made-up methods on `connections` keep-alive connections.
int MadeUpMethods(int port, int count, int connections, int seed) {
  int answered = 0;
  const char* paths[] = {"/healthz", "/v1/keys/demo", "/no/such/path"};
  for (int k = 0; k < connections; ++k) {
    TlsClient c;
    if (!c.Connect(port, "127.0.0.1", "", "", 10'000)) continue;
    const int per = count / connections;
    std::string batch;
    for (int i = 0; i < per; ++i) {
      const int n = seed + k * per + i;
      batch += "X" + std::to_string(n) + "METHOD " + paths[n % 3] + " HTTP/1.1\r\nHost: k\r\n\r\n";
    }
    c.Send(batch);
    for (int i = 0; i < per; ++i) answered += c.Read().status >= 400;
  }
  return answered;
}

TEST_F(EdgeServerTest, MadeUpMethodsDoNotCreateMetricSeries) {
  ASSERT_TRUE(S().ok()) << S().Log();
  MadeUpMethods(S().port(), 30, 1, 1'000'000);  // each kind of refusal once
  Series(S());
  const std::size_t before = Series(S());
  EXPECT_EQ(MadeUpMethods(S().port(), 5000, 10, 0), 5000);
  const std::size_t after = Series(S());
  EXPECT_EQ(after, before) << "5,000 made-up methods added " << after - before << " series";
  EXPECT_GE(
      S().Metric("kmra_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"}"),
      1600);
  ExpectServed();
}

std::uintmax_t DatabaseBytes(const DevServer& s) {
  std::uintmax_t total = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    auto size = std::filesystem::file_size(s.dir() + "/kmra-state.db" + suffix, ec);
    if (!ec) total += size;
  }
  return total;
}

TEST_F(EdgeServerTest, AnonymousRequestsWithLongPathsDoNotGrowTheDatabase) {
  ASSERT_TRUE(S().ok()) << S().Log();
  const std::uintmax_t before = DatabaseBytes(S());
  const std::string path = "/v1/keys/" + std::string(12 * 1024, 'k');
  int refused = 0;
  for (int k = 0; k < 30; ++k) {
    TlsClient c;
    ASSERT_TRUE(c.Connect(S().port(), "127.0.0.1", "", "", 10'000));
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += "GET " + path + " HTTP/1.1\r\nHost: k\r\n\r\n";
    c.Send(batch);
    for (int i = 0; i < 100; ++i) refused += c.Read().status == 401;
  }
  EXPECT_EQ(refused, 3000);
  const std::uintmax_t after = DatabaseBytes(S());
  // Bound: 3,000 records of 12 KB would be 36 MB; at most 10 per minute per address are written.
  EXPECT_LT(after - before, 512u * 1024) << before << " -> " << after;
  std::printf("[ figures  ] database grew by %ju bytes for 3,000 anonymous 12 KB paths\n",
              after - before);
  // The refusals that were recorded hold a bounded path, and the admin still reads the audit.
  HttpReply audit = S().Admin("/v1/audit?limit=1000");
  ASSERT_EQ(audit.status, 200) << audit.body;
  int recorded = 0;
  const Json records = Json::parse(audit.body)["records"];
  for (const auto& r : records) {
    if (r["record"]["failed_check"] != "client_certificate.missing") continue;
    ++recorded;
    EXPECT_LT(r["record"]["detail"].get<std::string>().size(), 400u);
  }
  EXPECT_GE(recorded, 1);
  EXPECT_LE(recorded, 20);
  EXPECT_EQ(S().Metric("kmra_auth_refusals_total{code=\"client_certificate.missing\"}") >= 3000,
            true);
  ExpectServed();
}

// A client certificate of the server's own client CA whose validity ended yesterday.
bool MakeExpiredClient(const DevServer& s, const std::string& out_cert,
                       const std::string& out_key) {
  auto read = [](const std::string& path, bool key) -> void* {
    FILE* f = fopen(path.c_str(), "r");
    if (!f) return nullptr;
    void* v = key ? static_cast<void*>(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr))
                  : static_cast<void*>(PEM_read_X509(f, nullptr, nullptr, nullptr));
    fclose(f);
    return v;
  };
  auto* ca = static_cast<X509*>(read(s.dir() + "/tls/ca.pem", false));
  auto* ca_key = static_cast<EVP_PKEY*>(read(s.dir() + "/tls/ca.key", true));
  auto* key = static_cast<EVP_PKEY*>(read(s.Key("client"), true));
  if (!ca || !ca_key || !key) return false;
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 424242);
  X509_gmtime_adj(X509_getm_notBefore(cert), -10 * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), -86400);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("client"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("expired"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(ca));
  X509_set_pubkey(cert, key);
  bool ok = X509_sign(cert, ca_key, EVP_sha256()) > 0;
  FILE* f = fopen(out_cert.c_str(), "w");
  ok = ok && f && PEM_write_X509(f, cert) == 1;
  if (f) fclose(f);
  X509_free(cert);
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(key);
  std::filesystem::copy_file(s.Key("client"), out_key,
                             std::filesystem::copy_options::overwrite_existing);
  return ok;
}

TEST_F(EdgeServerTest, AnExpiredClientCertificateIsReportedAsExpired) {
  ASSERT_TRUE(S().ok()) << S().Log();
  const std::string cert = S().dir() + "/expired.pem", key = S().dir() + "/expired.key";
  ASSERT_TRUE(std::filesystem::exists(S().dir() + "/tls/ca.key")) << "no CA key in the dev PKI";
  ASSERT_TRUE(MakeExpiredClient(S(), cert, key));
  HttpReply reply = Request(S().port(), "GET", "/sys/version", cert, key);
  EXPECT_EQ(reply.status, 401) << reply.body;
  Json body = Json::parse(reply.body, nullptr, false);
  EXPECT_EQ(body["error"]["code"], "client_certificate.expired") << reply.body;
  const std::string message = body["error"]["message"];
  EXPECT_NE(message.find("expired"), std::string::npos) << message;
  EXPECT_EQ(message.find("not issued by"), std::string::npos) << message;
  ExpectServed();
}

TEST_F(EdgeServerTest, OverDeepJsonIs413ResourceExhaustedOnEveryJsonRoute) {
  ASSERT_TRUE(S().ok()) << S().Log();
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  struct Route {
    const char* method;
    const char* path;
    const char* who;
  };
  for (const Route& r :
       {Route{"POST", "/sgx/keys/export", "client"}, Route{"POST", "/sgx/attest", "client"},
        Route{"POST", "/v1/keys/demo/release", "client"}, Route{"POST", "/v1/keys", "admin"},
        Route{"POST", "/v1/keys/demo/rotate", "admin"},
        Route{"PUT", "/v1/keys/demo/policy", "admin"}, Route{"POST", "/v1/keys/demo/csr", "admin"},
        Route{"PUT", "/v1/keys/demo/certificate", "admin"}}) {
    TlsClient c;
    ASSERT_TRUE(c.Connect(S().port(), "127.0.0.1", S().Cert(r.who), S().Key(r.who), 10'000));
    c.Send(std::string(r.method) + " " + r.path + " HTTP/1.1\r\nHost: k\r\nContent-Type: " +
           "application/json\r\nContent-Length: " + std::to_string(deep.size()) + "\r\n\r\n" +
           deep);
    HttpReply reply = c.Read();
    EXPECT_EQ(reply.status, 413) << r.path << ": " << reply.body;
    Json body = Json::parse(reply.body, nullptr, false);
    EXPECT_EQ(body["error"]["code"], "resource_exhausted") << r.path << ": " << reply.body;
  }
  ExpectServed();
}

}  // namespace
}  // namespace kmra::edge
