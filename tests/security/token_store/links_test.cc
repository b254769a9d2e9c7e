// Links planted in token_dir by someone who can write there: the token, running as root, must
// neither follow them nor touch what they point at, must say why it refuses, and must work again
// once the link is gone.
#include <sys/stat.h>
#include <unistd.h>

#include "store_attack.h"

namespace kmra::token::testing {
namespace {

using LinksTest = StoreAttackTest;
using ::testing::HasSubstr;

TEST_F(LinksTest, LockFileLinkedToARootFileIsRefused) {
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  const std::string lock = store_ + "/.lock";
  ASSERT_EQ(::unlink(lock.c_str()), 0);
  ASSERT_EQ(::symlink(victim_.c_str(), lock.c_str()), 0);
  std::string log;
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr(lock + " is a symbolic link"));
  ExpectVictimsUntouched();

  // A dangling link: the token must not create its target either.
  const std::string target = dir_ + "/created-by-the-token";
  ASSERT_EQ(::unlink(lock.c_str()), 0);
  ASSERT_EQ(::symlink(target.c_str(), lock.c_str()), 0);
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr("symbolic link"));
  EXPECT_NE(::access(target.c_str(), F_OK), 0);

  ASSERT_EQ(::unlink(lock.c_str()), 0);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  ExpectLegitFlowWorks("after-lock-link");
  ExpectVictimsUntouched();
}

TEST_F(LinksTest, ObjectsDirectoryLinkedElsewhereIsRefused) {
  ExpectLegitFlowWorks("before");
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  const std::string objects = store_ + "/objects";
  ASSERT_EQ(::rename(objects.c_str(), (objects + ".real").c_str()), 0);
  for (const std::string& target : {victim_dir_, victim_}) {
    ASSERT_EQ(::symlink(target.c_str(), objects.c_str()), 0);
    std::string log;
    EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED) << target;
    EXPECT_THAT(log, HasSubstr(objects + " is a symbolic link"));
    ExpectVictimsUntouched();
    EXPECT_EQ(Read(victim_dir_ + "/keep"), "keep\n");
    ASSERT_EQ(::unlink(objects.c_str()), 0);
  }
  ASSERT_EQ(::rename((objects + ".real").c_str(), objects.c_str()), 0);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  ASSERT_EQ(LoginUser(), CKR_OK);
  EXPECT_EQ(Find({{CKA_LABEL, const_cast<char*>("before"), 6}}).size(), 1u);
  ASSERT_EQ(C_Logout(session_), CKR_OK);
  ExpectLegitFlowWorks("after-objects-link");
}

TEST_F(LinksTest, TempFileNamesCannotBePlanted) {
  // The names a predictable scheme would use (<name>.tmp.<pid>) all point at the victim; every
  // write the token makes (record, generation, objects) must go elsewhere.
  const std::string pid = std::to_string(::getpid());
  const std::vector<std::string> planted = {
      store_ + "/.token.meta.tmp." + pid, store_ + "/objects/..generation.tmp." + pid,
      store_ + "/.token.meta.tmp", store_ + "/token.meta.tmp"};
  for (const auto& p : planted) ASSERT_EQ(::symlink(victim_.c_str(), p.c_str()), 0) << p;
  // Writes of the record: a wrong PIN, then the right one (the counter goes back to zero).
  EXPECT_EQ(C_Login(session_, CKU_USER, Pin("wrong-pin"), 9), CKR_PIN_INCORRECT);
  ExpectLegitFlowWorks("through-the-links");
  ExpectVictimsUntouched();
  for (const auto& p : planted) EXPECT_TRUE(IsLink(p)) << p;
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_EQ(info.flags & CKF_USER_PIN_COUNT_LOW, 0u);
}

TEST_F(LinksTest, TokenRecordLinkedToARootFileIsRefused) {
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  const std::string meta = store_ + "/token.meta";
  ASSERT_EQ(::rename(meta.c_str(), (meta + ".real").c_str()), 0);
  ASSERT_EQ(::symlink(victim_.c_str(), meta.c_str()), 0);
  std::string log;
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr(meta + " is a symbolic link"));
  ExpectVictimsUntouched();
  // A FIFO in its place neither blocks the module nor is read.
  ASSERT_EQ(::unlink(meta.c_str()), 0);
  ASSERT_EQ(::mkfifo(meta.c_str(), 0600), 0);
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr(meta + " is not a regular file"));
  ASSERT_EQ(::unlink(meta.c_str()), 0);
  ASSERT_EQ(::rename((meta + ".real").c_str(), meta.c_str()), 0);
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  ExpectLegitFlowWorks("after-meta-link");
}

TEST_F(LinksTest, ObjectFileLinkIsSkippedAndReplacedNotFollowed) {
  ExpectLegitFlowWorks("kept");
  // One more object, whose file the attacker swaps for a link to the victim.
  CK_OBJECT_CLASS data = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &data, sizeof data}, {CKA_TOKEN, &yes, 1}};
  CK_OBJECT_HANDLE h;
  ASSERT_EQ(C_CreateObject(session_, t, 2, &h), CKR_OK);
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  std::string swapped;
  for (const auto& e : std::filesystem::directory_iterator(store_ + "/objects")) {
    const std::string name = e.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".obj" && swapped.empty()) {
      swapped = e.path().string();
    }
  }
  ASSERT_FALSE(swapped.empty());
  ASSERT_EQ(::unlink(swapped.c_str()), 0);
  ASSERT_EQ(::symlink(victim_.c_str(), swapped.c_str()), 0);
  std::string log;
  ASSERT_EQ(Reopen(&log), CKR_OK);
  EXPECT_THAT(log, HasSubstr("is a symbolic link"));
  ExpectVictimsUntouched();
  // The other object still loads, and new writes work.
  ASSERT_EQ(LoginUser(), CKR_OK);
  EXPECT_EQ(Find({{CKA_CLASS, &data, sizeof data}}).size(), 1u);
  ASSERT_EQ(C_Logout(session_), CKR_OK);
  ExpectLegitFlowWorks("after-object-link");
  ExpectVictimsUntouched();
}

}  // namespace
}  // namespace kmra::token::testing
