#include "server/router.h"

#include <gtest/gtest.h>

#include "server/json.h"

namespace kmra::server {
namespace {

Request Req(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RouterTest, CapturesPathParametersAndPicksTheMethod) {
  Router router;
  router.Add("POST", "/v1/keys/{id}/release", [](Request&, const PathParams& p) {
    return Response{200, "text/plain", "release " + p.at("id"), {}};
  });
  router.Add("GET", "/v1/keys/{id}", [](Request&, const PathParams& p) {
    return Response{200, "text/plain", "get " + p.at("id"), {}};
  });
  auto r1 = Req("POST", "/v1/keys/web/release");
  EXPECT_EQ(router.Dispatch(r1).body, "release web");
  auto r2 = Req("GET", "/v1/keys/web");
  EXPECT_EQ(router.Dispatch(r2).body, "get web");
  EXPECT_EQ(router.PatternFor(r1), "/v1/keys/{id}/release");
}

TEST(RouterTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.Add("GET", "/sys/version", [](Request&, const PathParams&) { return Response{}; });
  auto missing = Req("GET", "/nope");
  Response r404 = router.Dispatch(missing);
  EXPECT_EQ(r404.status, 404);
  EXPECT_EQ(Json::parse(r404.body)["error"]["code"], "not_found");
  auto wrong = Req("DELETE", "/sys/version");
  Response r405 = router.Dispatch(wrong);
  EXPECT_EQ(r405.status, 405);
  ASSERT_EQ(r405.headers.size(), 1u);
  EXPECT_EQ(r405.headers[0].second, "GET");
}

}  // namespace
}  // namespace kmra::server
