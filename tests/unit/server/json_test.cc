#include "server/json.h"

#include <gtest/gtest.h>

namespace kmra::server {
namespace {

TEST(JsonTest, ParsesObjects) {
  auto v = ParseJsonObject(R"({"a":[1,2,{"b":"c"}]})");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["a"][2]["b"], "c");
}

TEST(JsonTest, SyntaxErrorNamesTheOffset) {
  auto v = ParseJsonObject(R"({"a":1,})");
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Code::kInvalidArgument);
  EXPECT_NE(v.error().message().find("byte"), std::string::npos) << v.error().message();
}

TEST(JsonTest, DeepNestingIsRefusedBeforeParsing) {
  std::string deep(100000, '[');
  auto v = ParseJson(deep);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Code::kResourceExhausted);
  // Brackets inside strings do not count.
  auto ok = ParseJson("{\"a\":\"" + std::string(100, '[') + "\"}");
  EXPECT_TRUE(ok.has_value());
}

TEST(JsonTest, OversizedBodyIsRefused) {
  auto v = ParseJson(std::string(100, ' '), 10);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), Code::kResourceExhausted);
}

TEST(JsonTest, NonObjectAndEmptyBodiesAreRefused) {
  EXPECT_FALSE(ParseJsonObject("[1]").has_value());
  EXPECT_FALSE(ParseJsonObject("").has_value());
}

TEST(JsonTest, ErrorEnvelopeAndTypedFields) {
  Response r = ErrorResponse(Error(Code::kUnavailable, "HSM down"), Json{{"slot", 1}});
  EXPECT_EQ(r.status, 503);
  Json body = Json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "unavailable");
  EXPECT_EQ(body["error"]["message"], "HSM down");
  EXPECT_EQ(body["error"]["details"]["slot"], 1);
  Json obj = {{"s", "x"}, {"n", 5}};
  EXPECT_EQ(*GetString(obj, "s"), "x");
  EXPECT_FALSE(GetString(obj, "n").has_value());
  EXPECT_EQ(*GetInt(obj, "n"), 5);
  EXPECT_NE(GetInt(obj, "s").error().message().find("'s'"), std::string::npos);
}

TEST(JsonTest, DumpNeverThrowsOnInvalidUtf8) {
  Json v = std::string("\xff\xfe");
  EXPECT_FALSE(DumpJson(v).empty());
}

}  // namespace
}  // namespace kmra::server
