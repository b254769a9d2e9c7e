// The PostgreSQL store against a real PostgreSQL server started in a temporary directory (Unix
// socket only, no TCP port). Skipped, saying why, when the PostgreSQL server binaries are not
// installed.
#include "store/postgres_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "store_contract.h"

namespace kmra::store {
namespace {

using ::testing::HasSubstr;

std::string FindPgBin() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists("/usr/lib/postgresql", ec)) {
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
      if (fs::exists(entry.path() / "bin/initdb")) return (entry.path() / "bin").string();
    }
  }
  return "";
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string bin = FindPgBin();
    if (bin.empty())
      GTEST_SKIP() << "PostgreSQL server not installed (Debian package postgresql-15)";
    char tmpl[] = "/tmp/kmra-pg-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    // PostgreSQL refuses to run as root: run it as the 'postgres' user then.
    std::string as;
    if (::geteuid() == 0) {
      passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr)
        GTEST_SKIP() << "running as root and there is no 'postgres' user to run the server";
      ASSERT_EQ(::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid), 0);
      as = "setpriv --reuid=postgres --regid=postgres --clear-groups -- ";
    }
    pg_ctl_ = as + bin + "/pg_ctl -D " + dir_ + "/data";
    ASSERT_EQ(
        std::system((as + bin + "/initdb -D " + dir_ +
                     "/data -A trust -U kmra --no-sync -E UTF8 > " + dir_ + "/initdb.log 2>&1")
                        .c_str()),
        0);
    start_ = pg_ctl_ + " -w -l " + dir_ + "/server.log -o \"-k " + dir_ +
             " -c listen_addresses= -p 5432 -c fsync=off\" start > /dev/null";
    ASSERT_EQ(std::system(start_.c_str()), 0);
    started_ = true;
    conninfo_ = "host=" + dir_ + " port=5432 user=kmra dbname=postgres";
    auto store = OpenPostgresStore(conninfo_);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    if (started_) (void)std::system((pg_ctl_ + " -m immediate stop > /dev/null 2>&1").c_str());
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

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
  void ServerRestartIsSurvivedAndDownIsUnavailable() {
    ASSERT_TRUE(store_->CreateKey({"k", "", 1}));
    ASSERT_EQ(std::system((pg_ctl_ + " -m fast stop > /dev/null").c_str()), 0);
    auto down = store_->GetKey("k");
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code(), Code::kUnavailable);
    EXPECT_FALSE(store_->Ping());
    ASSERT_EQ(std::system(start_.c_str()), 0);
    auto back = store_->GetKey("k");
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_TRUE(store_->Ping());
    auto nowhere = OpenPostgresStore("host=/nonexistent port=1 user=kmra connect_timeout=2");
    ASSERT_FALSE(nowhere);
    EXPECT_EQ(nowhere.error().code(), Code::kUnavailable);
    EXPECT_THAT(nowhere.error().message(), HasSubstr("cannot connect"));
  }

  std::string dir_;
  std::string pg_ctl_;
  std::string start_;
  std::string conninfo_;
  bool started_ = false;
  std::unique_ptr<Store> store_;
};

// Each test starts its own server (about 2 s), so related checks share one.
TEST_F(PostgresStoreTest, RegistryPoliciesCollateralAndOutages) {
  KeysPoliciesAndCollateral();
  ServerRestartIsSurvivedAndDownIsUnavailable();
}

TEST_F(PostgresStoreTest, NoncesAndAuditAcrossReplicas) {
  NoncesAreSingleUseAcrossReplicas();
  AuditChainIsLinearAcrossReplicasAndTamperingIsNamed();
}

TEST_F(PostgresStoreTest, NonceSpentOnlyWithItsAuditRecordAndOpaqueKeyIds) {
  testing::NonceIsSpentOnlyWithItsAuditRecord(*store_);
  testing::KeyIdsAreOpaquePrintableAscii(*store_);
  testing::VerifyRunsBesideAppends(*store_);
}

}  // namespace
}  // namespace kmra::store
