// `kmra audit verify` as an operator runs it: the real binary against a real state database.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "store/store.h"

namespace kmra::store {
namespace {

using ::testing::HasSubstr;

std::pair<int, std::string> Kmra(const std::string& args) {
  const char* bin = std::getenv("KMRA_BIN");
  std::string cmd = std::string(bin ? bin : "kmra") + " " + args + " 2>&1";
  std::string out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = ::pclose(pipe);
  return {WEXITSTATUS(status), out};
}

class AuditCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kmra-audit-cmd-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    db_ = dir_ + "/state.db";
    auto store = OpenSqliteStore(db_);
    ASSERT_TRUE(store);
    for (int i = 1; i <= 4; ++i) {
      ASSERT_TRUE((*store)->AppendAudit(R"({"verdict":"allow","key":"web","n":)" + std::to_string(i) + "}",
                                        1700000000 + i));
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  std::string dir_;
  std::string db_;
};

TEST_F(AuditCmdTest, IntactChainExitsZero) {
  auto [rc, out] = Kmra("audit verify --db " + db_);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("intact: 4 records"));
  auto [rc_json, json] = Kmra("audit verify --format json --db " + db_);
  EXPECT_EQ(rc_json, 0);
  EXPECT_THAT(json, HasSubstr("\"intact\": true"));
}

TEST_F(AuditCmdTest, EditedRecordIsNamedAndExitsNonZero) {
  Tamper(R"(UPDATE audit SET json = '{"verdict":"deny","key":"web","n":3}' WHERE seq = 3)");
  auto [rc, out] = Kmra("audit verify --db " + db_);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_THAT(out, HasSubstr("BROKEN at record 3"));
}

TEST_F(AuditCmdTest, RemovedRecordIsNamed) {
  Tamper("DELETE FROM audit WHERE seq = 2");
  auto [rc, out] = Kmra("audit verify --format json --db " + db_);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_THAT(out, HasSubstr("\"first_bad_record\": 2"));
}

TEST_F(AuditCmdTest, InvalidUtf8InATamperedRecordIsReportedNotACrash) {
  Tamper("UPDATE audit SET json = CAST(X'7B2261223A22FF227D' AS TEXT) WHERE seq = 2");
  auto [rc, out] = Kmra("audit list --format json --db " + db_);
  EXPECT_EQ(rc, 0) << out;
  auto [rc_verify, verify] = Kmra("audit verify --db " + db_);
  EXPECT_EQ(rc_verify, 2) << verify;
  EXPECT_THAT(verify, HasSubstr("record 2"));
}

TEST_F(AuditCmdTest, ListPrintsRecordsAndMissingDatabaseIsAnError) {
  auto [rc, out] = Kmra("audit list --after 2 --db " + db_);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr(R"("n":3)"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr(R"("n":2)")));
  auto [rc_missing, missing] = Kmra("audit verify --db " + dir_ + "/nope.db");
  EXPECT_EQ(rc_missing, 1);
  EXPECT_THAT(missing, HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/nope.db"));
}

}  // namespace
}  // namespace kmra::store
