#include "server/json_secret.h"

#include <gtest/gtest.h>

#include "server/json.h"

namespace kmra::server {
namespace {

TEST(JsonSecretTest, TakesTheTopLevelStringAndLeavesZeroInItsPlace) {
  std::string body =
      R"({"id":"k","policy":{"private_key_pem":"nested"},"private_key_pem":"-----BEGIN\nA\/B\u00e9\ud83d\ude00"})";
  const std::size_t size = body.size();
  auto taken = TakeSecretMember(body, "private_key_pem");
  ASSERT_TRUE(taken.has_value()) << taken.error().ToString();
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ((*taken)->RevealAsString(), "-----BEGIN\nA/B\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(body.size(), size);
  EXPECT_EQ(body.find("BEGIN"), std::string::npos) << body;
  auto parsed = ParseJsonObject(body);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ((*parsed)["private_key_pem"], 0);
  EXPECT_EQ((*parsed)["policy"]["private_key_pem"], "nested");  // nested members are not taken
  EXPECT_EQ((*parsed)["id"], "k");
}

TEST(JsonSecretTest, AbsentMemberTakesNothingAndChangesNothing) {
  std::string body = R"({"id":"k","type":"rsa-3072","n":[1,{"x":"]}"}],"t":true})";
  const std::string before = body;
  auto taken = TakeSecretMember(body, "private_key_pem");
  ASSERT_TRUE(taken.has_value()) << taken.error().ToString();
  EXPECT_FALSE(taken->has_value());
  EXPECT_EQ(body, before);
}

TEST(JsonSecretTest, RefusesWhatIsAmbiguousOrMalformedNamingIt) {
  struct Case {
    const char* body;
    const char* says;
  } cases[] = {
      {R"({"private_key_pem":"a","private_key_pem":"b"})", "appears twice"},
      {R"({"private_key_pem":{"pem":"a"}})", "must be a string"},
      {R"({"private_key_pem":"a\qb"})", "invalid escape"},
      {R"({"private_key_pem":"\ud83d"})", "unpaired high surrogate"},
      {R"({"private_key_pem":"\u12"})", "four hex digits"},
      {R"({"private_key_pem":"abc)", "unterminated string"},
      {R"(["private_key_pem","a"])", "a JSON object was expected"},
      {R"({"a":1} x)", "text after the JSON object"},
      {R"({"a":1 "b":2})", "',' or '}' was expected"},
      {"{\"private_key_pem\":\"a\nb\"}", "control character"},
  };
  for (const auto& c : cases) {
    std::string body = c.body;
    auto taken = TakeSecretMember(body, "private_key_pem");
    ASSERT_FALSE(taken.has_value()) << c.body;
    EXPECT_EQ(taken.error().code(), Code::kInvalidArgument);
    EXPECT_NE(taken.error().message().find(c.says), std::string::npos)
        << c.body << ": " << taken.error().message();
    EXPECT_NE(taken.error().message().find("byte"), std::string::npos);
    EXPECT_EQ(body, c.body) << "a refused body is left as it was";
  }
}

}  // namespace
}  // namespace kmra::server
