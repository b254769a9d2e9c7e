#include "base/base64.h"

#include <gtest/gtest.h>

namespace kmra {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string ErrorOf(const Result<std::vector<uint8_t>>& r) {
  return r ? std::string("<ok>") : r.error().message();
}

struct Vector {
  const char* plain;
  const char* encoded;
};

// RFC 4648 section 10.
constexpr Vector kRfcVectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                  {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                  {"foobar", "Zm9vYmFy"}};

TEST(Base64Test, Rfc4648Section10Vectors) {
  for (const auto& v : kRfcVectors) {
    EXPECT_EQ(Base64Encode(Bytes(v.plain)), v.encoded);
    auto d = Base64Decode(v.encoded);
    ASSERT_TRUE(d) << v.encoded << ": " << d.error().message();
    EXPECT_EQ(*d, Bytes(v.plain));
  }
}

TEST(Base64Test, UrlVariantUsesItsAlphabetWithoutPadding) {
  std::vector<uint8_t> b = {0xfb, 0xff, 0xbf, 0xfe};
  EXPECT_EQ(Base64Encode(b), "+/+//g==");
  EXPECT_EQ(Base64UrlEncode(b), "-_-__g");
  EXPECT_EQ(*Base64UrlDecode("-_-__g"), b);
  EXPECT_EQ(*Base64UrlDecode("-_-__g=="), b);  // padded form accepted when complete
  for (const auto& v : kRfcVectors) {
    std::string unpadded(v.encoded);
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    EXPECT_EQ(Base64UrlEncode(Bytes(v.plain)), unpadded);
    EXPECT_EQ(*Base64UrlDecode(unpadded), Bytes(v.plain));
  }
}

TEST(Base64Test, RoundTripsAllLengths) {
  std::vector<uint8_t> data;
  for (int n = 0; n < 70; ++n) {
    EXPECT_EQ(*Base64Decode(Base64Encode(data)), data);
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(data)), data);
    data.push_back(static_cast<uint8_t>(n * 37 + 11));
  }
}

TEST(Base64Test, RejectsBadPadding) {
  EXPECT_NE(ErrorOf(Base64Decode("Zg")).find("multiple of 4"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("Zg=")).find("multiple of 4"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("Z===")).find("at most 2"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("Zm8==")).find("multiple of 4"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("Zm9v====")).find("at most 2"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("Zg==Zg==")).find("padding '=' inside the data"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("Zm=v")).find("padding '=' inside the data at position 2"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Base64UrlDecode("Zg=")).find("multiple of 4"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64UrlDecode("Z")).find("no byte count"), std::string::npos);
}

TEST(Base64Test, RejectsNonCanonicalTrailingBits) {
  // "Zh==" decodes to 'f' in lax decoders; its unused low bits are not zero (RFC 4648 3.5).
  EXPECT_NE(ErrorOf(Base64Decode("Zh==")).find("not canonical"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("Zm9=")).find("not canonical"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64UrlDecode("Zh")).find("not canonical"), std::string::npos);
}

TEST(Base64Test, RejectsStrayCharactersAndTheOtherAlphabet) {
  EXPECT_NE(ErrorOf(Base64Decode("Zm9v\nYmFy")).find("byte 0x0a"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode(" Zm9v")).find("byte 0x20, not in the base64 alphabet, at position 0"), std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("Zm9*")).find("'*', not in the base64 alphabet, at position 3"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Base64Decode("-_-__g==")).find("'-', not in the base64 alphabet"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Base64UrlDecode("+/+//g")).find("'+', not in the base64url alphabet"),
            std::string::npos);
  EXPECT_FALSE(Base64Decode(std::string_view("Zm9\0", 4)));
}

TEST(Base64Test, ErrorsAreInvalidArgument) {
  auto r = Base64Decode("!!!!");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace kmra
