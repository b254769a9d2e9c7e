#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "p11/error.h"
#include "p11/module.h"
#include "p11/session.h"
#include "softhsm_fixture.h"

namespace kmra::p11 {
namespace {

using ::testing::HasSubstr;
using testing::SoftHsmTest;

TEST(ModuleLoadTest, MissingFileIsNotFound) {
  auto module = Module::Load("/nonexistent/libnothing.so");
  ASSERT_FALSE(module);
  EXPECT_EQ(module.error().code(), Code::kNotFound);
  EXPECT_THAT(module.error().message(), HasSubstr("/nonexistent/libnothing.so"));
}

TEST(ModuleLoadTest, LibraryWithoutFunctionListIsRejected) {
  // A real shared library, but not a PKCS#11 module.
  auto real = Module::Load("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0");
  ASSERT_FALSE(real);
  EXPECT_EQ(real.error().code(), Code::kInvalidArgument);
  EXPECT_THAT(real.error().message(), HasSubstr("C_GetFunctionList"));
}

TEST(ErrorTest, NamesTheFunctionAndTheConstant) {
  Error e = RvError("C_Login", CKR_PIN_INCORRECT);
  EXPECT_EQ(e.code(), Code::kUnauthenticated);
  EXPECT_EQ(e.message(), "C_Login: CKR_PIN_INCORRECT (0xa0)");
  EXPECT_EQ(RvCode(CKR_DEVICE_REMOVED), Code::kUnavailable);
  EXPECT_EQ(RvCode(CKR_TEMPLATE_INCONSISTENT), Code::kInvalidArgument);
  EXPECT_EQ(RvCode(CKR_KEY_UNEXTRACTABLE), Code::kPermissionDenied);
  EXPECT_EQ(RvName(CKR_VENDOR_DEFINED + 0x10), "CKR_VENDOR_DEFINED+0x10");
  EXPECT_EQ(RvName(0x7777), "CKR_0x7777");
}

class ModuleTest : public SoftHsmTest {};

TEST_F(ModuleTest, LoadingTwiceSharesTheModule) {
  auto again = Module::Load(testing::SoftHsmPath());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get(), module_.get());
  auto describe = module_->Describe();
  ASSERT_TRUE(describe);
  EXPECT_THAT(*describe, HasSubstr("SoftHSM"));
}

TEST_F(ModuleTest, FindsTheTokenAndNamesTheOthersWhenMissing) {
  auto tokens = module_->Tokens();
  ASSERT_TRUE(tokens);
  bool seen = false;
  for (const auto& t : *tokens) seen |= t.label == "kmra-test" && t.initialized();
  EXPECT_TRUE(seen);
  auto missing = module_->FindSlotByTokenLabel("no-such-token");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("'kmra-test'"));
}

TEST_F(ModuleTest, MechanismInfo) {
  auto kwp = module_->GetMechanismInfo(slot_, CKM_AES_KEY_WRAP_PAD);
  ASSERT_TRUE(kwp) << kwp.error().ToString();
  EXPECT_NE(kwp->flags & CKF_WRAP, 0u);
  auto none = module_->GetMechanismInfo(slot_, CKM_VENDOR_DEFINED + 0x210D);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Code::kNotFound);
}

TEST_F(ModuleTest, WrongPinIsUnauthenticated) {
  auto session = Session::Open(module_, slot_, false);
  ASSERT_TRUE(session);
  ASSERT_TRUE(session_->Logout());
  auto login = session->Login(SecretBytes::FromString("0000"));
  ASSERT_FALSE(login);
  EXPECT_EQ(login.error().code(), Code::kUnauthenticated);
  EXPECT_THAT(login.error().message(), HasSubstr("CKR_PIN_INCORRECT"));
  EXPECT_THAT(login.error().message(), ::testing::Not(HasSubstr("0000")));
  // The right PIN works, and logging in twice is fine.
  ASSERT_TRUE(session->Login(SecretBytes::FromString(testing::kUserPin)));
  ASSERT_TRUE(session->Login(SecretBytes::FromString(testing::kUserPin)));
}

TEST_F(ModuleTest, CreateFindReadSetAndDestroyObjects) {
  Attrs data;
  const uint8_t value[] = {1, 2, 3};
  data.Ulong(CKA_CLASS, CKO_DATA).Bool(CKA_TOKEN, false).String(CKA_LABEL, "blob").Bytes(CKA_VALUE, value);
  auto obj = session_->CreateObject(data);
  ASSERT_TRUE(obj) << obj.error().ToString();

  Attrs find;
  find.Ulong(CKA_CLASS, CKO_DATA).String(CKA_LABEL, "blob");
  auto found = session_->FindOne(find, "data object 'blob'");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, *obj);
  auto read = session_->GetAttribute(*obj, CKA_VALUE);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, std::vector<uint8_t>(value, value + 3));
  auto is_token = session_->GetBool(*obj, CKA_TOKEN);
  ASSERT_TRUE(is_token);
  EXPECT_FALSE(*is_token);

  Attrs relabel;
  relabel.String(CKA_LABEL, "blob2");
  ASSERT_TRUE(session_->SetAttributes(*obj, relabel));
  auto label = session_->GetString(*obj, CKA_LABEL);
  ASSERT_TRUE(label);
  EXPECT_EQ(*label, "blob2");

  auto bad = session_->GetAttribute(*obj, CKA_MODULUS);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);

  ASSERT_TRUE(session_->DestroyObject(*obj));
  Attrs again;
  again.Ulong(CKA_CLASS, CKO_DATA).String(CKA_LABEL, "blob2");
  auto gone = session_->FindOne(again, "data object 'blob2'");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Code::kNotFound);
}

TEST_F(ModuleTest, ScopedObjectDestroysOnScopeExit) {
  CK_OBJECT_HANDLE handle;
  {
    Attrs data;
    data.Ulong(CKA_CLASS, CKO_DATA).Bool(CKA_TOKEN, false).String(CKA_LABEL, "scoped");
    auto obj = session_->CreateObject(data);
    ASSERT_TRUE(obj);
    handle = *obj;
    ScopedObject scoped(session_.get(), handle);
  }
  auto read = session_->GetAttribute(handle, CKA_LABEL);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Code::kNotFound);
}

TEST_F(ModuleTest, RandomAndSessionState) {
  auto a = session_->GenerateRandom(32);
  auto b = session_->GenerateRandom(32);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  auto state = session_->State();
  ASSERT_TRUE(state);
  EXPECT_EQ(*state, static_cast<CK_STATE>(CKS_RW_USER_FUNCTIONS));
}

}  // namespace
}  // namespace kmra::p11
