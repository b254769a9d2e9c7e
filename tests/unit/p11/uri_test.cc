#include "p11/uri.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kmra::p11 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(UriTest, ParsesTheAttributesNginxAndLoadkeyUse) {
  auto uri = ParseUri("pkcs11:token=kmra%20token;object=web;id=%0a%ff;type=private"
                      "?pin-value=1234&module-path=/usr/lib/x.so");
  ASSERT_TRUE(uri) << uri.error().ToString();
  EXPECT_EQ(uri->token, "kmra token");
  EXPECT_EQ(uri->object, "web");
  EXPECT_EQ(uri->id, (std::vector<uint8_t>{0x0a, 0xff}));
  ASSERT_TRUE(uri->type.has_value());
  EXPECT_EQ(*uri->type, static_cast<CK_OBJECT_CLASS>(CKO_PRIVATE_KEY));
  EXPECT_EQ(uri->pin_value.RevealAsString(), "1234");
  EXPECT_EQ(uri->module_path, "/usr/lib/x.so");
  EXPECT_TRUE(uri->pin_source.empty());
}

TEST(UriTest, FormatsAndRoundTrips) {
  Uri in;
  in.token = "kmra";
  in.object = "web;1";
  in.id = {0x01, 0x02};
  in.type = CKO_PRIVATE_KEY;
  in.pin_value = SecretBytes::FromString("secret-pin");
  in.pin_source = "file:/etc/kmra/pin";
  auto text = FormatUri(in);
  ASSERT_TRUE(text) << text.error().ToString();
  EXPECT_THAT(*text, HasSubstr("token=kmra"));
  EXPECT_THAT(*text, HasSubstr("object=web%3B1"));
  EXPECT_THAT(*text, HasSubstr("type=private"));
  EXPECT_THAT(*text, Not(HasSubstr("secret-pin")));
  auto back = ParseUri(*text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->object, "web;1");
  EXPECT_EQ(back->id, in.id);
  EXPECT_EQ(back->pin_source, "file:/etc/kmra/pin");
  EXPECT_TRUE(back->pin_value.empty());

  auto with_pin = FormatUri(in, /*include_pin=*/true);
  ASSERT_TRUE(with_pin);
  EXPECT_THAT(*with_pin, HasSubstr("pin-value=secret-pin"));
  EXPECT_EQ(ParseUri(*with_pin)->pin_value.RevealAsString(), "secret-pin");
}

TEST(UriTest, BadUrisAreExplainedWithoutEchoingThem) {
  auto scheme = ParseUri("pkcs12:token=x?pin-value=9999");
  ASSERT_FALSE(scheme);
  EXPECT_EQ(scheme.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(scheme.error().message(), Not(HasSubstr("9999")));
  EXPECT_FALSE(ParseUri("pkcs11:id=%zz"));
  auto nul = ParseUri("pkcs11:token=%00=web;object=x");  // found by fuzz_p11_uri
  ASSERT_FALSE(nul);
  EXPECT_THAT(nul.error().message(), HasSubstr("NUL"));
  Uri long_label;
  long_label.token = std::string(40, 'x');
  auto too_long = FormatUri(long_label);
  ASSERT_FALSE(too_long);
  EXPECT_THAT(too_long.error().message(), HasSubstr("32 bytes"));
  Uri odd_type;
  odd_type.type = CKO_VENDOR_DEFINED;
  EXPECT_FALSE(FormatUri(odd_type));
}

}  // namespace
}  // namespace kmra::p11
