// A token_dir others could write in, or that belongs to another user, is refused with a message
// that names the fix; once fixed, the token works.
#include <sys/stat.h>
#include <unistd.h>

#include "store_attack.h"

namespace kmra::token::testing {
namespace {

using PermissionsTest = StoreAttackTest;
using ::testing::HasSubstr;

TEST_F(PermissionsTest, GroupOrWorldWritableDirectoriesAreRefused) {
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  for (const std::string& d : {store_, store_ + "/objects"}) {
    for (mode_t mode : {0770, 0702, 0777}) {
      ASSERT_EQ(::chmod(d.c_str(), mode), 0);
      std::string log;
      EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED) << d << " " << std::oct << mode;
      EXPECT_THAT(log, HasSubstr(d + " is writable by its group or by everyone"));
      EXPECT_THAT(log, HasSubstr("chmod 0700 " + d));
      ASSERT_EQ(::chmod(d.c_str(), 0700), 0);
    }
  }
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  ExpectLegitFlowWorks("after-chmod");
}

TEST_F(PermissionsTest, DirectoriesOfAnotherUserAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving files to another user needs root";
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  constexpr uid_t kNobody = 65534;
  for (const std::string& d : {store_, store_ + "/objects", store_ + "/.lock"}) {
    ASSERT_EQ(::chown(d.c_str(), kNobody, kNobody), 0);
    std::string log;
    EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED) << d;
    EXPECT_THAT(log, HasSubstr(d + " belongs to uid 65534"));
    EXPECT_THAT(log, HasSubstr("run the token as uid 65534, or `chown -R 0 " + d + "`"));
    ASSERT_EQ(::chown(d.c_str(), 0, 0), 0);
  }
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  ExpectLegitFlowWorks("after-chown");
}

TEST_F(PermissionsTest, TokenDirThatIsALinkIsRefused) {
  // Whoever owns the parent could re-point the link between two opens; the token wants the
  // directory itself.
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  const std::string link = dir_ + "/store-link";
  ASSERT_EQ(::symlink(store_.c_str(), link.c_str()), 0);
  WriteConfig("max_pin_failures = 3\n");
  std::string conf = Read(conf_);
  const std::string key = "token_dir = \"" + store_ + "\"";
  conf.replace(conf.find(key), key.size(), "token_dir = \"" + link + "\"");
  Write(conf_, conf);
  std::string log;
  EXPECT_EQ(Reopen(&log), CKR_FUNCTION_FAILED);
  EXPECT_THAT(log, HasSubstr(link + " is a symbolic link"));
  WriteConfig("max_pin_failures = 3\n");
  ASSERT_EQ(Reopen(nullptr), CKR_OK);
  ExpectLegitFlowWorks("real-path");
}

}  // namespace
}  // namespace kmra::token::testing
