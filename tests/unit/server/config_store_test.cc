// [store] (SQLite path or PostgreSQL url, password handling, pool sizes) and [server] replica.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "server/config.h"

namespace kmra::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ErrorOf(const std::string& toml) {
  auto c = ParseServerConfig(toml, "/etc/kmra");
  return c ? std::string("(accepted)") : c.error().message();
}

TEST(ConfigStoreTest, SqliteByDefaultPostgresByUrlNeverBoth) {
  auto sqlite = ParseServerConfig("", "/etc/kmra");
  ASSERT_TRUE(sqlite) << sqlite.error().ToString();
  EXPECT_EQ(sqlite->store_path, "/etc/kmra/kmra-state.db");
  EXPECT_TRUE(sqlite->store_url.empty());

  auto pg = ParseServerConfig(R"(
[server]
replica = "kmra-2"
[store]
url = "host=db1,db2 dbname=kmra user=kmra target_session_attrs=read-write sslmode=verify-full"
password_file = "db.password"
pool_size = 8
audit_pool_size = 2
)",
                              "/etc/kmra");
  ASSERT_TRUE(pg) << pg.error().ToString();
  EXPECT_EQ(pg->replica, "kmra-2");
  EXPECT_THAT(pg->store_url, HasSubstr("host=db1,db2"));
  EXPECT_EQ(pg->store_password_file, "/etc/kmra/db.password");
  EXPECT_EQ(pg->store_pool_size, 8);
  EXPECT_EQ(pg->store_audit_pool_size, 2);

  EXPECT_THAT(ErrorOf("[store]\npath = \"s.db\"\nurl = \"host=db dbname=kmra\"\n"),
              HasSubstr("sets both path (SQLite) and url (PostgreSQL)"));
  EXPECT_THAT(ErrorOf("[store]\npool_size = 8\n"), HasSubstr("pool_size applies to PostgreSQL"));
  EXPECT_THAT(ErrorOf("[store]\nurl = \"host=db\"\npool_size = 0\n"),
              HasSubstr("pool_size must be from 1 to 64"));
  EXPECT_THAT(ErrorOf("[store]\nurl = \"host=db\"\naudit_pool_size = 9\n"),
              HasSubstr("audit_pool_size must be from 1 to 8"));
  EXPECT_THAT(ErrorOf("[store]\nurl = \"kmra-db\"\n"),
              HasSubstr("[store] url: not a libpq connection string"));
  EXPECT_THAT(ErrorOf("[store]\nurl = \"postgresql://db/kmra?sslmode=strict\"\n"),
              HasSubstr("sslmode \"strict\""));
  EXPECT_THAT(ErrorOf("[store]\nuri = \"host=db\"\n"),
              HasSubstr("unknown setting 'uri' in [store]"));
}

// A password inside the URL ends up in logs, process lists and tickets: refused unless asked for.
TEST(ConfigStoreTest, PasswordInTheUrlIsRefusedUnlessAllowed) {
  const std::string url = "[store]\nurl = \"postgresql://kmra:hunter2@db.example/kmra\"\n";
  const std::string refused = ErrorOf(url);
  EXPECT_THAT(refused, HasSubstr("holds a password"));
  EXPECT_THAT(refused, HasSubstr("password_file"));
  EXPECT_THAT(refused, Not(HasSubstr("hunter2")));
  EXPECT_EQ(ErrorOf(url + "allow_password_in_url = true\n"), "(accepted)");
}

TEST(ConfigStoreTest, PasswordFileReadableByOthersIsRefusedWithTheChmod) {
  char tmpl[] = "/tmp/kmra-config-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string password = dir + "/db.password";
  ASSERT_TRUE(WriteFileAtomic(password, "s3cret\n", 0640));
  ASSERT_TRUE(WriteFileAtomic(dir + "/kmra.toml",
                              "[store]\nurl = \"host=db dbname=kmra\"\npassword_file = "
                              "\"db.password\"\n",
                              0600));
  auto loose = LoadServerConfig(dir + "/kmra.toml");
  ASSERT_FALSE(loose);
  EXPECT_THAT(loose.error().message(), HasSubstr("[store] password_file"));
  EXPECT_THAT(loose.error().message(), HasSubstr("mode 0640"));
  EXPECT_THAT(loose.error().message(), HasSubstr("chmod 600 " + password));
  EXPECT_THAT(loose.error().message(), Not(HasSubstr("s3cret")));
  ASSERT_EQ(::chmod(password.c_str(), 0600), 0);
  auto tight = LoadServerConfig(dir + "/kmra.toml");
  EXPECT_TRUE(tight) << tight.error().ToString();
  std::filesystem::remove_all(dir);
}

TEST(ConfigStoreTest, ReplicaDefaultsToTheHostNameAndIsChecked) {
  auto c = ParseServerConfig("", "/");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->replica, DefaultReplicaName());
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(std::string(host).rfind(c->replica, 0), 0u) << host;
  EXPECT_THAT(ErrorOf("[server]\nreplica = \"a b\"\n"), HasSubstr("letters, digits"));
  EXPECT_THAT(ErrorOf("[server]\nreplica = \"" + std::string(65, 'r') + "\"\n"),
              HasSubstr("1 to 64 characters"));
  EXPECT_THAT(ErrorOf("[server]\nname = \"x\"\n"), HasSubstr("unknown setting 'name' in [server]"));
}

}  // namespace
}  // namespace kmra::server
