#include "client/key_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "client/loadkey.h"

namespace kmra::client {
namespace {

using Json = nlohmann::json;

QuotedKey SampleKey() {
  return QuotedKey{{0x01, 0x00, 0x01}, std::vector<uint8_t>(384, 0xab), {1, 2, 3, 4, 5}};
}

TEST(KmraNonce, IsTwentyEightRandomBytesThenLittleEndianTime) {
  std::array<uint8_t, 28> random{};
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<uint8_t>(i + 1);
  auto n = MakeKmraNonce(random, 0x6553f100);
  EXPECT_TRUE(std::equal(random.begin(), random.end(), n.begin()));
  EXPECT_EQ(n[28], 0x00);
  EXPECT_EQ(n[29], 0xf1);
  EXPECT_EQ(n[30], 0x53);
  EXPECT_EQ(n[31], 0x65);
}

TEST(KmraApi, ExportRequestHasTheAppHsmFieldNamesAndLengths) {
  std::vector<uint8_t> nonce(32, 7);
  Json j = Json::parse(KmraExportRequest("web", SampleKey(), nonce));
  EXPECT_EQ(j["HsmObject"]["h_unique_id"], "web");
  const Json& rsa = j["SgxObject"]["RsaPublicKey"];
  EXPECT_EQ(rsa["ExponentLen"], 3);
  EXPECT_EQ(rsa["Exponent"], "AQAB");
  EXPECT_EQ(rsa["ModulusLen"], 384);
  EXPECT_EQ(*Base64Decode(rsa["Modulus"].get<std::string>()), SampleKey().modulus);
  EXPECT_EQ(j["SgxObject"]["SgxQuote"], "AQIDBAU=");
  EXPECT_EQ(*Base64Decode(j["SgxObject"]["SgxQuoteNonce"].get<std::string>()), nonce);
}

TEST(KmraApi, ExportResponseCarriesThePemCertificateInBase64) {
  std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  Json j = {{"wrappedSWK", "AAEC"}, {"wrappedKey", "AwQF"},
            {"certificate", Base64Encode(std::vector<uint8_t>(pem.begin(), pem.end()))}};
  auto r = ParseKmraExportResponse(j.dump());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->wrapped_swk, (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(r->wrapped_key, (std::vector<uint8_t>{3, 4, 5}));
  EXPECT_EQ(r->certificate_pem, pem);
  EXPECT_EQ(r->oaep, p11::OaepHash::kSha1);
}

TEST(KmraApi, MalformedResponsesNameTheField) {
  auto r = ParseKmraExportResponse(R"({"wrappedSWK":"AAEC","certificate":"AA=="})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("wrappedKey"), std::string::npos);
  r = ParseKmraExportResponse(R"({"wrappedSWK":"AA EC","wrappedKey":"AwQF","certificate":""})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("wrappedSWK"), std::string::npos);
  EXPECT_FALSE(ParseKmraExportResponse("not json"));
  EXPECT_FALSE(ParseKmraExportResponse(std::string(100, '[') + std::string(100, ']')));
}

TEST(V1Api, ReleaseRoundTrip) {
  std::vector<uint8_t> nonce(32, 9);
  Json req = Json::parse(V1ReleaseRequest(SampleKey(), nonce));
  EXPECT_EQ(*Base64Decode(req["nonce"].get<std::string>()), nonce);
  EXPECT_EQ(req["public_key"]["exponent"], "AQAB");
  EXPECT_EQ(req["oaep"], "sha256");
  Json resp = {{"key_id", "web"}, {"version", 3}, {"wrapped_swk", "AAEC"}, {"wrapped_key", "AwQF"},
               {"oaep_hash", "sha256"}, {"certificate_chain", "PEM"}};
  auto r = ParseV1ReleaseResponse(resp.dump());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->version, 3);
  EXPECT_EQ(r->oaep, p11::OaepHash::kSha256);
  resp["oaep_hash"] = "md5";
  EXPECT_FALSE(ParseV1ReleaseResponse(resp.dump()));
}

TEST(V1Api, NonceMustFitTheQuoteMechanism) {
  auto n = ParseV1NonceResponse(Json{{"nonce", Base64Encode(std::vector<uint8_t>(32, 1))}}.dump());
  ASSERT_TRUE(n);
  EXPECT_EQ(n->size(), 32u);
  auto bad = ParseV1NonceResponse(Json{{"nonce", "AAEC"}}.dump());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("3 bytes"), std::string::npos);
}

TEST(ErrorFromResponse, KeepsTheServersCodeMessageAndDetails) {
  HttpResponse r{403, R"({"error":{"code":"policy.mrenclave","message":"MRENCLAVE not allowed",)"
                      R"("details":{"expected":"ab","actual":"cd"}}})"};
  Error e = ErrorFromResponse("the release of key 'web' was refused", r);
  EXPECT_EQ(e.code(), Code::kPermissionDenied);
  EXPECT_NE(e.message().find("policy.mrenclave: MRENCLAVE not allowed"), std::string::npos);
  EXPECT_NE(e.message().find("\"expected\":\"ab\""), std::string::npos);
  EXPECT_EQ(ErrorFromResponse("x", {503, "down"}).code(), Code::kUnavailable);
  EXPECT_EQ(ErrorFromResponse("x", {401, ""}).code(), Code::kUnauthenticated);
}

TEST(ParseApi, OnlyKmraAndV1) {
  EXPECT_EQ(*ParseApi("kmra"), Api::kKmra);
  EXPECT_EQ(*ParseApi("v1"), Api::kV1);
  EXPECT_FALSE(ParseApi("v2"));
}

TEST(QuoteOutput, SplitsHeaderExponentModulusQuote) {
  std::vector<uint8_t> out(16, 0);
  out[0] = 3;    // ulExponentLen (little-endian CK_ULONG)
  out[8] = 4;    // ulModulusLen
  for (uint8_t b : {1, 0, 1, 9, 9, 9, 9, 0xaa, 0xbb}) out.push_back(b);
  auto q = ParseQuoteOutput(out);
  ASSERT_TRUE(q) << q.error().ToString();
  EXPECT_EQ(q->exponent, (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(q->modulus, (std::vector<uint8_t>{9, 9, 9, 9}));
  EXPECT_EQ(q->quote, (std::vector<uint8_t>{0xaa, 0xbb}));
  out[8] = 200;  // modulus longer than what follows
  EXPECT_FALSE(ParseQuoteOutput(out));
  EXPECT_FALSE(ParseQuoteOutput(std::vector<uint8_t>(10, 0)));
}

TEST(HttpClient, ServerDownSaysWhereAndWhatToCheck) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int port = ntohs(a.sin_port);
  close(s);  // nothing listens there now
  HttpClient http("https://127.0.0.1:" + std::to_string(port), {}, 5);
  auto r = http.Get("/sys/version");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_NE(r.error().message().find("cannot reach the key server at https://127.0.0.1:"),
            std::string::npos);
  EXPECT_NE(r.error().message().find("kmra server"), std::string::npos);
}

}  // namespace
}  // namespace kmra::client
