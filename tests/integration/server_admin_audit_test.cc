// Admin changes whose audit record cannot be written (`kmra server --dev`, SQLite store, SoftHSM2):
// the audit table refuses every insert (an SQLite trigger, as a full or failing audit store would),
// and the admin commands an operator runs are answered 503 audit.unavailable saying the change was
// made but not recorded, never as a plain success. In the same test the legitimate flow holds: the
// same commands succeed and are recorded while the audit store works, and again once it is back.
#include <gtest/gtest.h>

#include <string>

#include "integration/dev_server.h"
#include "integration/harness.h"

namespace kmra {
namespace {

using integration::RunCmd;
using integration::RunResult;

class ServerAdminAuditTest : public integration::DevServerTest {
 protected:
  void SetUp() override {
    InitPki();
    StartServer();
    policy_file_ = WriteAnyEnclavePolicy();
  }

  // `kmra ARGS... --dir D`: the admin CLI against the dev server.
  RunResult Kmra(std::vector<std::string> args) {
    args.insert(args.begin(), integration::EnvOr("KMRA_BIN", "kmra"));
    args.insert(args.end(), {"--dir", D()});
    return RunCmd(args);
  }

  void Sql(const std::string& sql) { ASSERT_EQ(integration::RunStateSql(D(), sql), ""); }
  void BreakAuditStore() {
    Sql("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit "
        "BEGIN SELECT RAISE(ABORT, 'audit store refuses writes'); END");
  }
  void RepairAuditStore() { Sql("DROP TRIGGER refuse_audit"); }

  // The audit log as `kmra audit list` prints it (read from the database).
  std::string AuditLog() {
    auto listed = RunCmd({integration::EnvOr("KMRA_BIN", "kmra"), "audit", "list", "--db",
                          D() + "/state.db", "--limit", "1000"});
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    return listed.output;
  }

  // The answer says the change was made and is not in the audit log, with the store's reason.
  static void ExpectUnrecordedChange(const RunResult& r, const std::string& action) {
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("error 503 audit.unavailable: " + action), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("was made, but its audit record could not be written"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("audit store refuses writes"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"changed\": true"), std::string::npos) << r.output;
  }

  std::string policy_file_;
};

TEST_F(ServerAdminAuditTest, ChangesWithoutAnAuditRecordAreNotAnsweredAsSuccess) {
  // The legitimate flow: a change is answered as a success and recorded.
  auto created =
      Kmra({"keys", "create", "recorded", "--type", "ec-p256", "--policy", policy_file_});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  ASSERT_NE(AuditLog().find("recorded"), std::string::npos);

  BreakAuditStore();
  ASSERT_FALSE(HasFatalFailure());
  auto unrecorded =
      Kmra({"keys", "create", "unrecorded", "--type", "ec-p256", "--policy", policy_file_});
  ExpectUnrecordedChange(unrecorded, "key.create of key 'unrecorded'");
  // The answer is true: the key was made.
  auto shown = Kmra({"keys", "show", "unrecorded"});
  EXPECT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("\"version\": 1"), std::string::npos) << shown.output;

  ExpectUnrecordedChange(Kmra({"keys", "rotate", "recorded"}), "key.rotate of key 'recorded'");
  ExpectUnrecordedChange(Kmra({"policy", "set", "recorded", policy_file_}),
                         "policy.set of key 'recorded'");
  ExpectUnrecordedChange(Kmra({"keys", "delete", "unrecorded"}), "key.delete of key 'unrecorded'");
  EXPECT_NE(Kmra({"keys", "show", "unrecorded"}).exit_code, 0);
  // A change that fails is answered with its own error, as when the store works.
  auto missing = Kmra({"keys", "delete", "no-such-key"});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("error 404"), std::string::npos) << missing.output;
  // Reading is not a change: it is answered as usual.
  EXPECT_EQ(Kmra({"keys", "list"}).exit_code, 0);

  std::string log = integration::ReadFile(D() + "/server.log");
  EXPECT_NE(log.find("admin change made without an audit record: key.create key=unrecorded"),
            std::string::npos)
      << log;
  EXPECT_EQ(AuditLog().find("unrecorded"), std::string::npos);

  // With the audit store back, changes are answered as successes and recorded again.
  RepairAuditStore();
  ASSERT_FALSE(HasFatalFailure());
  auto again = Kmra({"keys", "create", "again", "--type", "ec-p256", "--policy", policy_file_});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  auto deleted = Kmra({"keys", "delete", "recorded"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.output;
  const std::string after = AuditLog();
  EXPECT_NE(after.find("again"), std::string::npos) << after;
  EXPECT_NE(after.find("key.delete"), std::string::npos) << after;
}

}  // namespace
}  // namespace kmra
