// Objects: templates, attribute rules, searches, persistence and sealing.
#include <filesystem>
#include <fstream>

#include "token_fixture.h"

namespace kmra::token::testing {
namespace {

using ObjectsTest = TokenTest;

CK_OBJECT_CLASS kData = CKO_DATA;
CK_BBOOL kTrue = CK_TRUE, kFalse = CK_FALSE;

TEST_F(ObjectsTest, PrivateKeyAttributesFollowTheRules) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(2048, true, "rsa", &pub, &priv), CKR_OK);
  // Public parts readable on the private key; the modulus matches the public key's.
  auto n = Attr(priv, CKA_MODULUS);
  EXPECT_EQ(n.size(), 256u);
  EXPECT_EQ(n, Attr(pub, CKA_MODULUS));
  // Secret parts never.
  CK_ATTRIBUTE d = {CKA_PRIVATE_EXPONENT, nullptr, 0};
  EXPECT_EQ(C_GetAttributeValue(session_, priv, &d, 1), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(d.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  // Generated keys: local, always sensitive, never extractable.
  EXPECT_EQ(Attr(priv, CKA_LOCAL), std::vector<uint8_t>{CK_TRUE});
  EXPECT_EQ(Attr(priv, CKA_ALWAYS_SENSITIVE), std::vector<uint8_t>{CK_TRUE});
  EXPECT_EQ(Attr(priv, CKA_NEVER_EXTRACTABLE), std::vector<uint8_t>{CK_TRUE});
  EXPECT_EQ(Attr(priv, CKA_ALWAYS_AUTHENTICATE), std::vector<uint8_t>{CK_FALSE});
  // Unknown attribute: TYPE_INVALID with CK_UNAVAILABLE_INFORMATION, other entries still filled.
  CK_KEY_TYPE kt = 0;
  CK_ATTRIBUTE both[] = {{CKA_KEY_TYPE, &kt, sizeof kt}, {CKA_EC_POINT, nullptr, 0}};
  EXPECT_EQ(C_GetAttributeValue(session_, priv, both, 2), CKR_ATTRIBUTE_TYPE_INVALID);
  EXPECT_EQ(kt, CKK_RSA);
  EXPECT_EQ(both[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  // Buffer too small.
  uint8_t tiny[4];
  CK_ATTRIBUTE m = {CKA_MODULUS, tiny, sizeof tiny};
  EXPECT_EQ(C_GetAttributeValue(session_, priv, &m, 1), CKR_BUFFER_TOO_SMALL);
}

TEST_F(ObjectsTest, EcPrivateKeyCarriesThePublicPoint) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(0, false, "ec", &pub, &priv), CKR_OK);
  auto point = Attr(priv, CKA_EC_POINT);
  ASSERT_EQ(point.size(), 67u);  // DER OCTET STRING of an uncompressed P-256 point
  EXPECT_EQ(point[0], 0x04);
  EXPECT_EQ(point[2], 0x04);
  EXPECT_EQ(point, Attr(pub, CKA_EC_POINT));
}

TEST_F(ObjectsTest, PrivateObjectsNeedLogin) {
  CK_OBJECT_HANDLE pub, priv;
  EXPECT_EQ(GenerateKeyPair(0, true, "k", &pub, &priv), CKR_USER_NOT_LOGGED_IN);
  ASSERT_EQ(LoginUser(), CKR_OK);
  ASSERT_EQ(GenerateKeyPair(0, true, "k", &pub, &priv), CKR_OK);
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  EXPECT_EQ(Find({{CKA_CLASS, &cls, sizeof cls}}).size(), 1u);
  ASSERT_EQ(C_Logout(session_), CKR_OK);
  EXPECT_TRUE(Find({{CKA_CLASS, &cls, sizeof cls}}).empty());
  cls = CKO_PUBLIC_KEY;
  EXPECT_EQ(Find({{CKA_CLASS, &cls, sizeof cls}}).size(), 1u);  // public keys stay visible
  CK_ATTRIBUTE a = {CKA_LABEL, nullptr, 0};
  EXPECT_EQ(C_GetAttributeValue(session_, priv, &a, 1), CKR_OBJECT_HANDLE_INVALID);
}

TEST_F(ObjectsTest, TemplatesAreChecked) {
  CK_OBJECT_HANDLE h;
  CK_ATTRIBUTE no_class[] = {{CKA_TOKEN, &kTrue, 1}};
  EXPECT_EQ(C_CreateObject(session_, no_class, 1, &h), CKR_TEMPLATE_INCOMPLETE);
  CK_ULONG bad_len = 1;
  CK_ATTRIBUTE bad_bool[] = {{CKA_CLASS, &kData, sizeof kData}, {CKA_TOKEN, &bad_len, sizeof bad_len}};
  EXPECT_EQ(C_CreateObject(session_, bad_bool, 2, &h), CKR_ATTRIBUTE_VALUE_INVALID);
  CK_ATTRIBUTE unknown[] = {{CKA_CLASS, &kData, sizeof kData}, {CKA_MODULUS_BITS, &bad_len, sizeof bad_len}};
  EXPECT_EQ(C_CreateObject(session_, unknown, 2, &h), CKR_ATTRIBUTE_TYPE_INVALID);
  CK_ATTRIBUTE dup[] = {{CKA_CLASS, &kData, sizeof kData}, {CKA_CLASS, &kData, sizeof kData}};
  EXPECT_EQ(C_CreateObject(session_, dup, 2, &h), CKR_TEMPLATE_INCONSISTENT);
  CK_ATTRIBUTE null_value[] = {{CKA_CLASS, nullptr, sizeof kData}};
  EXPECT_EQ(C_CreateObject(session_, null_value, 1, &h), CKR_ARGUMENTS_BAD);
}

TEST_F(ObjectsTest, TokenObjectsSurviveRestartSessionObjectsDoNot) {
  char label[] = "kept";
  char value[] = "hello";
  CK_ATTRIBUTE keep[] = {{CKA_CLASS, &kData, sizeof kData}, {CKA_TOKEN, &kTrue, 1},
                         {CKA_LABEL, label, 4}, {CKA_VALUE, value, 5}};
  CK_ATTRIBUTE lose[] = {{CKA_CLASS, &kData, sizeof kData}, {CKA_TOKEN, &kFalse, 1},
                         {CKA_LABEL, label, 4}};
  CK_OBJECT_HANDLE h1, h2;
  ASSERT_EQ(C_CreateObject(session_, keep, 4, &h1), CKR_OK);
  ASSERT_EQ(C_CreateObject(session_, lose, 3, &h2), CKR_OK);
  ASSERT_EQ(LoginUser(), CKR_OK);
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(0, true, "ec", &pub, &priv), CKR_OK);
  auto point = Attr(pub, CKA_EC_POINT);
  Restart();
  auto found = Find({{CKA_LABEL, label, 4}});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(Attr(found[0], CKA_VALUE), std::vector<uint8_t>(value, value + 5));
  ASSERT_EQ(LoginUser(), CKR_OK);
  char ec[] = "ec";
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  auto keys = Find({{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, ec, 2}});
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(Attr(keys[0], CKA_EC_POINT), point);
}

TEST_F(ObjectsTest, ObjectFilesAreSealedAndTamperingIsRefused) {
  char secret_label[] = "visible-label-text";
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &kData, sizeof kData}, {CKA_TOKEN, &kTrue, 1},
                      {CKA_LABEL, secret_label, sizeof secret_label - 1}};
  CK_OBJECT_HANDLE h;
  ASSERT_EQ(C_CreateObject(session_, t, 3, &h), CKR_OK);
  ASSERT_EQ(C_CreateObject(session_, t, 3, &h), CKR_OK);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/store/objects")) {
    if (e.path().extension() == ".obj") files.push_back(e.path());  // (and .generation)
    EXPECT_EQ(e.status().permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(bytes.find("visible-label"), std::string::npos) << "object stored in clear";
  }
  ASSERT_EQ(files.size(), 2u);
  {  // flip one byte of the first object
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    char c;
    f.seekg(30);
    f.get(c);
    f.seekp(30);
    f.put(static_cast<char>(c ^ 1));
  }
  Restart();
  EXPECT_EQ(Find({{CKA_LABEL, secret_label, sizeof secret_label - 1}}).size(), 1u);
  // A file renamed to another object's name is refused too (the uid is associated data).
  std::filesystem::rename(files[1], files[1].parent_path() / "00000000000000000000000000000000.obj");
  Restart();
  EXPECT_TRUE(Find({{CKA_LABEL, secret_label, sizeof secret_label - 1}}).empty());
}

TEST_F(ObjectsTest, AnotherPlatformKeyCannotOpenTheToken) {
  char label[] = "x";
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &kData, sizeof kData}, {CKA_TOKEN, &kTrue, 1}, {CKA_LABEL, label, 1}};
  CK_OBJECT_HANDLE h;
  ASSERT_EQ(C_CreateObject(session_, t, 3, &h), CKR_OK);
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  UsePlatformKey(8);  // another enclave or another machine
  EXPECT_EQ(C_Initialize(nullptr), CKR_FUNCTION_FAILED);
  UsePlatformKey(7);
  ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
}

TEST_F(ObjectsTest, SetAttributeValueAndDestroy) {
  ASSERT_EQ(LoginUser(), CKR_OK);
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(GenerateKeyPair(0, true, "old", &pub, &priv), CKR_OK);
  char label[] = "new";
  CK_ATTRIBUTE set[] = {{CKA_LABEL, label, 3}};
  ASSERT_EQ(C_SetAttributeValue(session_, priv, set, 1), CKR_OK);
  CK_ATTRIBUTE ro[] = {{CKA_SENSITIVE, &kFalse, 1}};
  EXPECT_EQ(C_SetAttributeValue(session_, priv, ro, 1), CKR_ATTRIBUTE_READ_ONLY);
  CK_KEY_TYPE kt = CKK_RSA;
  CK_ATTRIBUTE type[] = {{CKA_KEY_TYPE, &kt, sizeof kt}};
  EXPECT_EQ(C_SetAttributeValue(session_, priv, type, 1), CKR_ATTRIBUTE_READ_ONLY);
  Restart();
  ASSERT_EQ(LoginUser(), CKR_OK);
  auto found = Find({{CKA_LABEL, label, 3}});
  ASSERT_EQ(found.size(), 1u);
  ASSERT_EQ(C_DestroyObject(session_, found[0]), CKR_OK);
  EXPECT_EQ(C_DestroyObject(session_, found[0]), CKR_OBJECT_HANDLE_INVALID);
  Restart();
  ASSERT_EQ(LoginUser(), CKR_OK);
  EXPECT_TRUE(Find({{CKA_LABEL, label, 3}}).empty());
}

TEST_F(ObjectsTest, ReadOnlySessionCannotCreateTokenObjects) {
  CK_SESSION_HANDLE ro;
  ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &ro), CKR_OK);
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &kData, sizeof kData}, {CKA_TOKEN, &kTrue, 1}};
  CK_OBJECT_HANDLE h;
  EXPECT_EQ(C_CreateObject(ro, t, 2, &h), CKR_SESSION_READ_ONLY);
  EXPECT_EQ(C_OpenSession(0, 0, nullptr, nullptr, &ro), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
}

}  // namespace
}  // namespace kmra::token::testing
