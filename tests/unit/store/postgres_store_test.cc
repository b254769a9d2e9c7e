// The PostgreSQL store against a real PostgreSQL server started in a temporary directory (Unix
// socket only, no TCP port; pg_server.h). Skipped, saying why, when the PostgreSQL server binaries
// are not installed.
#include "store/postgres_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "pg_server.h"
#include "store_contract.h"

namespace kmra::store {
namespace {

using ::testing::HasSubstr;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pg_.Available()) GTEST_SKIP() << pg_.why_not();
    ASSERT_TRUE(pg_.Init()) << pg_.why_not();
    conninfo_ = pg_.conninfo();
    auto store = OpenPostgresStore(conninfo_);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { store_.reset(); }

  void KeysPoliciesAndCollateral() {
    ASSERT_TRUE(store_->CreateKey({"web", "front", 100}));
    EXPECT_EQ(store_->CreateKey({"web", "", 1}).error().code(), Code::kAlreadyExists);
    KeyVersion v{0, "web-v1", {0x00, 0xff, 0x10}, "ec-p256", "generated", "", 100};
    EXPECT_EQ(*store_->AddKeyVersion("web", v), 1);
    v.hsm_label = "web-v2";
    EXPECT_EQ(*store_->AddKeyVersion("web", v), 2);
    EXPECT_EQ(store_->AddKeyVersion("nope", v).error().code(), Code::kNotFound);
    ASSERT_TRUE(store_->SetCertificateChain("web", 2, "PEM"));
    auto key = store_->GetKey("web");
    ASSERT_TRUE(key) << key.error().ToString();
    EXPECT_EQ(key->newest()->hsm_label, "web-v2");
    EXPECT_EQ(key->newest()->hsm_id, (std::vector<uint8_t>{0x00, 0xff, 0x10}));
    EXPECT_EQ(key->newest()->cert_chain_pem, "PEM");
    EXPECT_EQ(store_->PutPolicy({"ghost", "{}", 1}).error().code(), Code::kNotFound);
    ASSERT_TRUE(store_->PutPolicy({"web", R"({"a":1})", 5}));
    ASSERT_TRUE(store_->PutPolicy({"web", R"({"a":2})", 6}));
    EXPECT_EQ(store_->GetPolicy("web")->json, R"({"a":2})");
    ASSERT_TRUE(store_->CreateKey({"api", "", 1}));
    EXPECT_EQ(store_->ListKeys()->size(), 2u);
    ASSERT_TRUE(store_->DeleteKey("web"));
    EXPECT_EQ(store_->GetPolicy("web").error().code(), Code::kNotFound);
    EXPECT_EQ(store_->DeleteKey("web").error().code(), Code::kNotFound);
    ASSERT_TRUE(store_->PutCollateral({"tcb/x", {0, 1, 2}, 1, 2}));
    ASSERT_TRUE(store_->PutCollateral({"tcb/x", {9}, 3, 4}));
    EXPECT_EQ(store_->GetCollateral("tcb/x")->value, std::vector<uint8_t>{9});
    EXPECT_TRUE(store_->Ping());
  }
  void NoncesAreSingleUseAcrossReplicas() {
    std::vector<uint8_t> client(32, 0x44);
    ASSERT_TRUE(store_->PutNonce(client, NonceKind::kClientSeen, 2000));
    EXPECT_EQ(store_->PutNonce(client, NonceKind::kClientSeen, 2000).error().code(),
              Code::kAlreadyExists);
    std::vector<uint8_t> late(16, 0x55);
    ASSERT_TRUE(store_->PutNonce(late, NonceKind::kServerIssued, 100));
    EXPECT_THAT(store_->ConsumeNonce(late, 110).error().message(), HasSubstr("expired 10 s ago"));
    EXPECT_EQ(store_->ConsumeNonce(std::vector<uint8_t>(8, 1), 1).error().code(), Code::kNotFound);

    // Three "replicas" (connections), several threads each, racing for the same nonces.
    std::vector<std::unique_ptr<Store>> replicas;
    for (int i = 0; i < 2; ++i) {
      auto r = OpenPostgresStore(conninfo_);
      ASSERT_TRUE(r);
      replicas.push_back(std::move(*r));
    }
    std::vector<Store*> all = {store_.get(), replicas[0].get(), replicas[1].get()};
    for (int round = 0; round < 3; ++round) {
      std::vector<uint8_t> nonce(32, static_cast<uint8_t>(round));
      ASSERT_TRUE(replicas[0]->PutNonce(nonce, NonceKind::kServerIssued, 5000));
      std::atomic<int> wins{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 6; ++t) {
        Store* s = all[static_cast<size_t>(t) % all.size()];
        threads.emplace_back([&, s] {
          if (s->ConsumeNonce(nonce, 1000)) ++wins;
        });
      }
      for (auto& th : threads) th.join();
      EXPECT_EQ(wins.load(), 1);
    }
    EXPECT_EQ(*replicas[1]->PurgeExpiredNonces(3000), 2);  // the client nonce and the late one
  }
  // Replicas racing for a free lease at the same moment: exactly one gets it.
  void LeaseGoesToOneReplica() {
    testing::LeasesAreHeldByOneHolderUntilTheyExpire(*store_);
    auto other = OpenPostgresStore(conninfo_);
    ASSERT_TRUE(other);
    for (int round = 0; round < 3; ++round) {
      const std::string name = "race/" + std::to_string(round);
      std::atomic<int> holders{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 6; ++t) {
        Store* s = t % 2 == 0 ? store_.get() : other->get();
        threads.emplace_back([&, s, t] {
          auto held = s->TryLease(name, "replica-" + std::to_string(t), 1000, 60);
          if (held && *held) ++holders;
        });
      }
      for (auto& th : threads) th.join();
      EXPECT_EQ(holders.load(), 1) << name;
    }
  }
  void AuditChainIsLinearAcrossReplicasAndTamperingIsNamed() {
    auto other = OpenPostgresStore(conninfo_);
    ASSERT_TRUE(other);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      Store* s = t % 2 == 0 ? store_.get() : other->get();
      threads.emplace_back([s, t] {
        for (int i = 0; i < 5; ++i)
          (void)s->AppendAudit(R"({"t":)" + std::to_string(t) + "}", 1000 + i);
      });
    }
    for (auto& th : threads) th.join();
    auto v = store_->VerifyAuditChain();
    ASSERT_TRUE(v) << v.error().ToString();
    EXPECT_TRUE(v->intact) << v->problem;
    EXPECT_EQ(v->records, 20);

    auto admin = OpenPostgresStore(conninfo_);  // someone with database access
    ASSERT_TRUE(admin);
    std::string sql =
        "psql -q \"" + conninfo_ + "\" -c \"UPDATE kmra_audit SET json = '{}' WHERE seq = 7\"";
    ASSERT_EQ(std::system(sql.c_str()), 0);
    auto broken = store_->VerifyAuditChain();
    ASSERT_TRUE(broken);
    EXPECT_FALSE(broken->intact);
    EXPECT_EQ(broken->first_bad_seq, 7);
    sql = "psql -q \"" + conninfo_ + "\" -c \"DELETE FROM kmra_audit WHERE seq >= 5\"";
    ASSERT_EQ(std::system(sql.c_str()), 0);
    broken = store_->VerifyAuditChain();
    ASSERT_TRUE(broken);
    EXPECT_THAT(broken->problem, HasSubstr("records 5 to 20 were removed"));
  }
  // A multi-host conninfo as for a primary and its standby: libpq tries the hosts in turn and
  // keeps the one that accepts writes, so a host that is down (here: first) costs nothing.
  void MultiHostConninfoFindsTheWritableHost() {
    auto store = OpenPostgresStore("host=" + pg_.dir() + "/gone," + pg_.dir() +
                                   " port=5432,5432 user=kmra dbname=postgres "
                                   "target_session_attrs=read-write");
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_TRUE((*store)->Ping());
    EXPECT_TRUE((*store)->GetKey("k"));
  }
  void ServerRestartIsSurvivedAndDownIsUnavailable() {
    ASSERT_TRUE(store_->CreateKey({"k", "", 1}));
    ASSERT_TRUE(pg_.Stop());
    auto down = store_->GetKey("k");
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code(), Code::kUnavailable);
    EXPECT_FALSE(store_->Ping());
    ASSERT_TRUE(pg_.Start());
    auto back = store_->GetKey("k");
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_TRUE(store_->Ping());
    auto nowhere = OpenPostgresStore("host=/nonexistent port=1 user=kmra connect_timeout=2");
    ASSERT_FALSE(nowhere);
    EXPECT_EQ(nowhere.error().code(), Code::kUnavailable);
    EXPECT_THAT(nowhere.error().message(), HasSubstr("cannot connect"));
  }

  testing::PgServer pg_;
  std::string conninfo_;
  std::unique_ptr<Store> store_;
};

// Each test starts its own server (about 2 s), so related checks share one.
TEST_F(PostgresStoreTest, RegistryPoliciesCollateralAndOutages) {
  KeysPoliciesAndCollateral();
  ServerRestartIsSurvivedAndDownIsUnavailable();
  MultiHostConninfoFindsTheWritableHost();
}

TEST_F(PostgresStoreTest, NoncesLeasesAndAuditAcrossReplicas) {
  NoncesAreSingleUseAcrossReplicas();
  LeaseGoesToOneReplica();
  AuditChainIsLinearAcrossReplicasAndTamperingIsNamed();
}

TEST_F(PostgresStoreTest, NonceSpentOnlyWithItsAuditRecordAndOpaqueKeyIds) {
  testing::NonceIsSpentOnlyWithItsAuditRecord(*store_);
  testing::KeyIdsAreOpaquePrintableAscii(*store_);
  testing::VerifyRunsBesideAppends(*store_);
}

// A conninfo with a password is refused unless allowed, and descriptions never carry one.
TEST(PostgresConninfoTest, PasswordsInUrlsAreRefusedAndDescriptionsHoldNone) {
  for (const std::string& with_password :
       {std::string("postgresql://kmra:hunter2@db.example/kmra"),
        std::string("host=db.example dbname=kmra user=kmra password=hunter2")}) {
    auto refused = CheckPostgresConninfo(with_password, false);
    ASSERT_FALSE(refused) << with_password;
    EXPECT_EQ(refused.error().code(), Code::kInvalidArgument);
    EXPECT_THAT(refused.error().message(), HasSubstr("password_file"));
    EXPECT_THAT(refused.error().message(), ::testing::Not(HasSubstr("hunter2")));
    EXPECT_TRUE(CheckPostgresConninfo(with_password, true));
    EXPECT_THAT(DescribePostgresTarget(with_password), ::testing::Not(HasSubstr("hunter2")));
    EXPECT_THAT(DescribePostgresTarget(with_password), HasSubstr("db.example"));
  }
  EXPECT_TRUE(CheckPostgresConninfo(
      "host=db1,db2 port=5432,5433 dbname=kmra user=kmra target_session_attrs=read-write "
      "sslmode=verify-full",
      false));
  EXPECT_EQ(DescribePostgresTarget("host=db1,db2 dbname=kmra sslmode=verify-full"),
            "host=db1,db2 dbname=kmra sslmode=verify-full");
  auto mode = CheckPostgresConninfo("postgresql://db/kmra?sslmode=verify", false);
  ASSERT_FALSE(mode);
  EXPECT_THAT(mode.error().message(), HasSubstr("sslmode \"verify\""));
  auto junk = CheckPostgresConninfo("kmra-db", false);
  ASSERT_FALSE(junk);
  EXPECT_THAT(junk.error().message(), HasSubstr("not a libpq connection string"));
  EXPECT_FALSE(CheckPostgresConninfo("", false));
}

// Count of this store's connections, by its application name.
int64_t Connections(const std::string& conninfo, const std::string& application) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  PGresult* r = PQexec(
      c, ("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + application + "'")
             .c_str());
  int64_t n = PQresultStatus(r) == PGRES_TUPLES_OK ? std::atoll(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  PQfinish(c);
  return n;
}

// Releases use the request pool; a verify of the audit log waits on its own connection. With the
// audit table locked by someone else, a verify waits while nonces and keys keep being served, and
// the pool never opens more connections than its size, however many threads ask.
TEST_F(PostgresStoreTest, AVerifyWaitingOnTheLogDoesNotHoldUpReleasesAndThePoolIsBounded) {
  PostgresOptions options;
  options.conninfo = conninfo_;
  options.pool_size = 2;
  options.audit_pool_size = 1;
  options.application_name = "kmra-bounded";
  auto opened = OpenPostgresStore(options);
  ASSERT_TRUE(opened) << opened.error().ToString();
  Store& s = **opened;
  ASSERT_TRUE(s.CreateKey({"k", "", 1}));
  ASSERT_TRUE(s.AppendAudit(R"({"before":1})", 1));

  PGconn* locker = PQconnectdb(conninfo_.c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK);
  PQclear(PQexec(locker, "BEGIN"));
  PGresult* locked = PQexec(locker, "LOCK TABLE kmra_audit IN ACCESS EXCLUSIVE MODE");
  ASSERT_EQ(PQresultStatus(locked), PGRES_COMMAND_OK) << PQresultErrorMessage(locked);
  PQclear(locked);

  std::atomic<bool> verified{false};
  Result<ChainVerdict> verdict = Internal("not run");
  std::thread verifier([&] {
    verdict = s.VerifyAuditChain();
    verified = true;
  });
  // Wait (bounded) until PostgreSQL shows the verify waiting for the lock.
  bool waiting = false;
  for (int i = 0; i < 200 && !waiting; ++i) {
    PGresult* r = PQexec(locker, "SELECT count(*) FROM pg_locks WHERE NOT granted");
    waiting = PQresultStatus(r) == PGRES_TUPLES_OK && std::atoll(PQgetvalue(r, 0, 0)) > 0;
    PQclear(r);
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(waiting) << "the verify never waited for the lock";

  std::atomic<int> served{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::vector<uint8_t> nonce(32, static_cast<uint8_t>(t * 16 + i));
        if (s.PutNonce(nonce, NonceKind::kServerIssued, 5000) && s.ConsumeNonce(nonce, 100) &&
            s.GetKey("k")) {
          ++served;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(served.load(), 80);
  EXPECT_FALSE(verified.load()) << "the verify did not wait for the lock, so proves nothing";
  EXPECT_LE(Connections(conninfo_, "kmra-bounded"), 3);  // 2 for requests, 1 for the audit read

  PQclear(PQexec(locker, "COMMIT"));
  PQfinish(locker);
  verifier.join();
  ASSERT_TRUE(verdict) << verdict.error().ToString();
  EXPECT_TRUE(verdict->intact) << verdict->problem;
  EXPECT_EQ(verdict->records, 1);
}

// Several replicas opening an empty database at once create the tables once; a database with a
// newer schema is refused, naming both versions.
TEST_F(PostgresStoreTest, ReplicasStartTogetherAndANewerSchemaIsRefused) {
  ASSERT_EQ(pg_.Psql("CREATE DATABASE fresh"), 0);
  const std::string fresh = pg_.conninfo("fresh");
  std::vector<std::unique_ptr<Store>> replicas(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < replicas.size(); ++i) {
    threads.emplace_back([&, i] {
      auto opened = OpenPostgresStore(fresh);
      if (opened) {
        replicas[i] = std::move(*opened);
      } else {
        errors[i] = opened.error().ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < replicas.size(); ++i) {
    ASSERT_TRUE(replicas[i]) << errors[i];
    ASSERT_TRUE(replicas[i]->CreateKey({"key-" + std::to_string(i), "", 1}));
  }
  EXPECT_EQ(replicas[0]->ListKeys()->size(), 4u);
  ASSERT_EQ(pg_.Psql("UPDATE kmra_meta SET value = '99' WHERE name = 'schema_version'", "fresh"),
            0);
  auto newer = OpenPostgresStore(fresh);
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(newer.error().message(), HasSubstr("schema version 99"));
  ASSERT_EQ(pg_.Psql("UPDATE kmra_meta SET value = '1' WHERE name = 'schema_version'", "fresh"), 0);
  EXPECT_TRUE(OpenPostgresStore(fresh));
}

// With password authentication: no password, or a wrong one, is refused by the server (and the
// message never carries the password); the options' password or libpq's PGPASSWORD is accepted.
TEST(PostgresStorePasswordTest, PasswordFromOptionsOrTheEnvironment) {
  testing::PgServer pg;
  if (!pg.Available()) GTEST_SKIP() << pg.why_not();
  ASSERT_TRUE(pg.Init({.password = "right-pw-1"})) << pg.why_not();
  ::unsetenv("PGPASSWORD");
  ::setenv("PGPASSFILE", "/nonexistent", 1);
  PostgresOptions options;
  options.conninfo = pg.conninfo();
  auto none = OpenPostgresStore(options);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Code::kUnavailable);
  EXPECT_THAT(none.error().message(), HasSubstr("password"));
  options.password = SecretBytes::FromString("wrong-pw-2");
  auto wrong = OpenPostgresStore(options);
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().message(), HasSubstr("password authentication failed"));
  EXPECT_THAT(wrong.error().message(), ::testing::Not(HasSubstr("wrong-pw-2")));
  options.password = SecretBytes::FromString("right-pw-1");
  auto right = OpenPostgresStore(options);
  ASSERT_TRUE(right) << right.error().ToString();
  EXPECT_TRUE((*right)->Ping());
  ::setenv("PGPASSWORD", "right-pw-1", 1);
  auto from_env = OpenPostgresStore(pg.conninfo());
  ::unsetenv("PGPASSWORD");
  ::unsetenv("PGPASSFILE");
  ASSERT_TRUE(from_env) << from_env.error().ToString();
  EXPECT_TRUE((*from_env)->Ping());
}

}  // namespace
}  // namespace kmra::store
