// The HTTPS listener against real TLS clients (libcurl and the openssl command): client
// certificates are reported, not trusted blindly; limits and malformed requests get JSON errors;
// TLS < 1.2 fails.
#include "server/listener.h"

#include <gtest/gtest.h>

#include "listener_fixture.h"
#include "server/json.h"

namespace kmra::server {
namespace {

using testing::HttpCall;
using testing::Https;

TEST_F(ListenerTest, ReportsVerifiedClientIdentityFromTheCertificate) {
  ASSERT_NE(listener_->port(), 0);
  HttpCall call = Call("/echo/path?x=a%20b");
  call.method = "POST";
  call.body = R"({"hello":1})";
  auto res = Https(call);
  ASSERT_EQ(res.status, 200) << res.curl_error;
  Json body = Json::parse(res.body);
  EXPECT_EQ(body["method"], "POST");
  EXPECT_EQ(body["path"], "/echo/path");
  EXPECT_EQ(body["query_x"], "a b");
  EXPECT_EQ(body["body"], R"({"hello":1})");
  EXPECT_TRUE(body["verified"].get<bool>());
  EXPECT_EQ(body["ou"], "compute-1");
  EXPECT_EQ(body["cn"], "client");
}

TEST_F(ListenerTest, NoClientCertificateIsReportedAsNotPresented) {
  auto res = Https(Call("/x", ""));
  ASSERT_EQ(res.status, 200) << res.curl_error;
  Json body = Json::parse(res.body);
  EXPECT_FALSE(body["presented"].get<bool>());
  EXPECT_FALSE(body["verified"].get<bool>());
}

TEST_F(ListenerTest, CertificateFromUnknownCaIsNotVerified) {
  auto res = Https(Call("/x", "rogue"));
  ASSERT_EQ(res.status, 200) << res.curl_error;
  Json body = Json::parse(res.body);
  EXPECT_TRUE(body["presented"].get<bool>());
  EXPECT_FALSE(body["verified"].get<bool>());
  EXPECT_EQ(body["ou"], "compute-1");  // the same OU as the real client: OU alone proves nothing
  EXPECT_NE(body["verify_error"].get<std::string>(), "");
}

TEST_F(ListenerTest, OversizedBodyGets413WithJsonError) {
  HttpCall call = Call("/x");
  call.method = "POST";
  call.body = std::string(8192, 'a');
  auto res = Https(call);
  ASSERT_EQ(res.status, 413) << res.curl_error;
  Json body = Json::parse(res.body);
  EXPECT_EQ(body["error"]["code"], "body_too_large");
}

TEST_F(ListenerTest, OversizedHeadersGet431) {
  HttpCall call = Call("/x");
  call.headers.push_back("X-Big: " + std::string(4096, 'b'));
  auto res = Https(call);
  ASSERT_EQ(res.status, 431) << res.curl_error;
  EXPECT_EQ(Json::parse(res.body)["error"]["code"], "headers_too_large");
}

TEST_F(ListenerTest, RefusesTls11) {
  std::string out;
  int rc = testing::RunCommand(
      "echo | timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(listener_->port()) +
          " -tls1_1 -cert " + pki_.cert("client") + " -key " + pki_.key("client"),
      &out);
  EXPECT_NE(rc, 0) << out;
}

TEST_F(ListenerTest, ManySequentialRequestsAndStopRefusesNewOnes) {
  for (int i = 0; i < 20; ++i) {
    auto res = Https(Call("/n"));
    ASSERT_EQ(res.status, 200);
  }
  listener_->Stop();
  auto res = Https(Call("/n"));
  EXPECT_EQ(res.status, 0);
}

TEST(ListenerStartTest, BadCertificatePathIsNamedInTheError) {
  ListenerOptions options;
  options.cert_file = "/nonexistent/server.pem";
  options.key_file = "/nonexistent/server.key";
  options.client_ca_file = "/nonexistent/ca.pem";
  auto listener = Listener::Start(options, [](Request&) { return Response{}; });
  ASSERT_FALSE(listener.has_value());
  EXPECT_NE(listener.error().message().find("/nonexistent/server.pem"), std::string::npos);
}

}  // namespace
}  // namespace kmra::server
