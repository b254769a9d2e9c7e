#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "store/store.h"
#include "store_contract.h"

namespace kmra::store {
namespace {

using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kmra-store-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/state/kmra.db";
    auto store = OpenSqliteStore(path_);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs SQL behind the store's back, as someone with write access to the file would.
  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  KeyVersion Version(const std::string& label) {
    KeyVersion v;
    v.hsm_label = label;
    v.hsm_id = {0x01, 0x02};
    v.key_type = "rsa-2048";
    v.origin = "generated";
    v.created_at = 1000;
    return v;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, FilesArePrivate) {
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(StoreTest, KeysHaveVersionsAndTheNewestIsServed) {
  ASSERT_TRUE(store_->CreateKey({"web", "front end", 100}));
  auto dup = store_->CreateKey({"web", "", 101});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Code::kAlreadyExists);
  EXPECT_FALSE(store_->CreateKey({"", "", 1}));

  auto empty = store_->GetKey("web");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->newest(), nullptr);

  EXPECT_EQ(*store_->AddKeyVersion("web", Version("web-v1")), 1);
  EXPECT_EQ(*store_->AddKeyVersion("web", Version("web-v2")), 2);
  ASSERT_TRUE(store_->SetCertificateChain("web", 2, "-----BEGIN CERTIFICATE-----\n"));
  auto missing_version = store_->SetCertificateChain("web", 3, "x");
  ASSERT_FALSE(missing_version);
  EXPECT_EQ(missing_version.error().code(), Code::kNotFound);
  auto unknown = store_->AddKeyVersion("nope", Version("x"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Code::kNotFound);

  auto key = store_->GetKey("web");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->description, "front end");
  ASSERT_EQ(key->versions.size(), 2u);
  EXPECT_EQ(key->newest()->version, 2);
  EXPECT_EQ(key->newest()->hsm_label, "web-v2");
  EXPECT_EQ(key->newest()->hsm_id, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(key->newest()->cert_chain_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(key->versions[0].cert_chain_pem, "");

  ASSERT_TRUE(store_->CreateKey({"api", "", 100}));
  auto list = store_->ListKeys();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "api");
  EXPECT_EQ((*list)[1].versions.size(), 2u);
}

TEST_F(StoreTest, DeleteTakesVersionsAndPolicyAlong) {
  ASSERT_TRUE(store_->CreateKey({"web", "", 1}));
  ASSERT_TRUE(store_->AddKeyVersion("web", Version("v1")));
  ASSERT_TRUE(store_->PutPolicy({"web", R"({"mrenclave":["aa"]})", 5}));
  ASSERT_TRUE(store_->DeleteKey("web"));
  EXPECT_EQ(store_->GetKey("web").error().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetPolicy("web").error().code(), Code::kNotFound);
  EXPECT_EQ(store_->DeleteKey("web").error().code(), Code::kNotFound);
  // The id can be used again, starting over at version 1.
  ASSERT_TRUE(store_->CreateKey({"web", "", 2}));
  EXPECT_EQ(*store_->AddKeyVersion("web", Version("v1")), 1);
}

TEST_F(StoreTest, PoliciesAreReplacedAndNeedAKey) {
  auto orphan = store_->PutPolicy({"ghost", "{}", 1});
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code(), Code::kNotFound);
  ASSERT_TRUE(store_->CreateKey({"web", "", 1}));
  EXPECT_EQ(store_->GetPolicy("web").error().code(), Code::kNotFound);
  ASSERT_TRUE(store_->PutPolicy({"web", R"({"a":1})", 10}));
  ASSERT_TRUE(store_->PutPolicy({"web", R"({"a":2})", 20}));
  auto p = store_->GetPolicy("web");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->json, R"({"a":2})");
  EXPECT_EQ(p->updated_at, 20);
}

TEST_F(StoreTest, ServerNoncesAreConsumedOnceBeforeExpiry) {
  std::vector<uint8_t> n1(32, 0x11), n2(32, 0x22), unknown(32, 0x33);
  ASSERT_TRUE(store_->PutNonce(n1, NonceKind::kServerIssued, 1300));
  ASSERT_TRUE(store_->PutNonce(n2, NonceKind::kServerIssued, 1300));
  ASSERT_TRUE(store_->ConsumeNonce(n1, 1299));
  auto twice = store_->ConsumeNonce(n1, 1299);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(twice.error().message(), HasSubstr("already used"));
  auto late = store_->ConsumeNonce(n2, 1310);
  ASSERT_FALSE(late);
  EXPECT_THAT(late.error().message(), HasSubstr("expired 10 s ago"));
  auto never = store_->ConsumeNonce(unknown, 1000);
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().code(), Code::kNotFound);
  EXPECT_EQ(*store_->PurgeExpiredNonces(1301), 2);
  EXPECT_EQ(store_->ConsumeNonce(n2, 1000).error().code(), Code::kNotFound);
}

TEST_F(StoreTest, ClientNoncesAreNeverAcceptedTwice) {
  std::vector<uint8_t> kmra_nonce(32, 0x44);
  ASSERT_TRUE(store_->PutNonce(kmra_nonce, NonceKind::kClientSeen, 2000));
  auto replay = store_->PutNonce(kmra_nonce, NonceKind::kClientSeen, 2000);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code(), Code::kAlreadyExists);
  EXPECT_THAT(replay.error().message(), HasSubstr("replay"));
  // Nor can a client nonce be passed off as a server nonce.
  EXPECT_FALSE(store_->ConsumeNonce(kmra_nonce, 1000));
}

TEST_F(StoreTest, NonceIsSpentOnlyWithItsAuditRecord) {
  testing::NonceIsSpentOnlyWithItsAuditRecord(*store_);
}

TEST_F(StoreTest, KeyIdsAreOpaquePrintableAscii) {
  testing::KeyIdsAreOpaquePrintableAscii(*store_);
}

TEST_F(StoreTest, VerifyRunsBesideAppends) { testing::VerifyRunsBesideAppends(*store_); }

TEST_F(StoreTest, LeasesAreHeldByOneHolderUntilTheyExpire) {
  testing::LeasesAreHeldByOneHolderUntilTheyExpire(*store_);
}

TEST_F(StoreTest, ExactlyOneOfManyConcurrentConsumersWins) {
  // Two connections to one file (as two server replicas would have) and several threads on each.
  auto other = OpenSqliteStore(path_);
  ASSERT_TRUE(other);
  for (int round = 0; round < 5; ++round) {
    std::vector<uint8_t> nonce(16, static_cast<uint8_t>(round));
    ASSERT_TRUE(store_->PutNonce(nonce, NonceKind::kServerIssued, 5000));
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      Store* s = t % 2 == 0 ? store_.get() : other->get();
      threads.emplace_back([&, s] {
        if (s->ConsumeNonce(nonce, 1000)) ++wins;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), 1);
  }
}

TEST_F(StoreTest, AuditChainVerifiesAndSurvivesReopen) {
  for (int i = 1; i <= 5; ++i) {
    auto rec =
        store_->AppendAudit(R"({"event":"release","n":)" + std::to_string(i) + "}", 1000 + i);
    ASSERT_TRUE(rec) << rec.error().ToString();
    EXPECT_EQ(rec->seq, i);
  }
  EXPECT_FALSE(store_->AppendAudit("not json", 1));
  store_.reset();
  store_ = std::move(*OpenSqliteStore(path_));
  auto v = store_->VerifyAuditChain();
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->intact) << v->problem;
  EXPECT_EQ(v->records, 5);
  auto page = store_->ListAudit({.after_seq = 2, .since_time = 0, .limit = 2});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 3);
  EXPECT_EQ((*page)[1].prev_hash, (*page)[0].hash);
  EXPECT_EQ((*page)[0].hash, AuditHash((*page)[0].prev_hash, 3, 1003, (*page)[0].json));
}

class AuditTamperTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE(
          store_->AppendAudit(R"({"verdict":"allow","n":)" + std::to_string(i) + "}", 1000 + i));
    }
  }
  ChainVerdict Verify() {
    auto v = store_->VerifyAuditChain();
    EXPECT_TRUE(v);
    return v ? *v : ChainVerdict{};
  }
};

TEST_F(AuditTamperTest, EditedRecordIsNamed) {
  Tamper(R"(UPDATE audit SET json = '{"verdict":"deny","n":3}' WHERE seq = 3)");
  auto v = Verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_THAT(v.problem, HasSubstr("record 3 was edited"));
}

TEST_F(AuditTamperTest, EditWithRecomputedHashIsStillCaught) {
  std::string json = R"({"verdict":"deny","n":2})";
  auto page = store_->ListAudit({.after_seq = 1, .since_time = 0, .limit = 1});
  ASSERT_TRUE(page);
  std::string forged = AuditHash((*page)[0].prev_hash, 2, 1002, json);
  Tamper("UPDATE audit SET json = '" + json + "', hash = '" + forged + "' WHERE seq = 2");
  auto v = Verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 2);
}

TEST_F(AuditTamperTest, RemovedRecordIsNamed) {
  Tamper("DELETE FROM audit WHERE seq = 2");
  auto v = Verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 2);
  EXPECT_THAT(v.problem, HasSubstr("record 2 is missing"));
}

TEST_F(AuditTamperTest, RemovedTailIsNamed) {
  Tamper("DELETE FROM audit WHERE seq >= 4");
  auto v = Verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_THAT(v.problem, HasSubstr("records 4 to 5 were removed"));
}

TEST_F(AuditTamperTest, AppendAfterTamperingDoesNotHideIt) {
  Tamper("DELETE FROM audit WHERE seq = 5");
  ASSERT_TRUE(store_->AppendAudit(R"({"n":6})", 2000));
  auto v = Verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 5);
}

TEST_F(AuditTamperTest, GarbledChainHeadIsDataLossNotACrash) {
  Tamper("UPDATE meta SET value = 'abc' WHERE name = 'audit_head_seq'");
  auto v = store_->VerifyAuditChain();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), Code::kDataLoss);
  EXPECT_THAT(v.error().message(), HasSubstr("edited outside kmra"));
  auto append = store_->AppendAudit("{}", 1);
  ASSERT_FALSE(append);
  EXPECT_EQ(append.error().code(), Code::kDataLoss);
}

TEST_F(StoreTest, CollateralCacheAndPing) {
  EXPECT_EQ(store_->GetCollateral("tcb/00906ED50000").error().code(), Code::kNotFound);
  ASSERT_TRUE(store_->PutCollateral({"tcb/00906ED50000", {1, 2, 3}, 10, 20}));
  ASSERT_TRUE(store_->PutCollateral({"tcb/00906ED50000", {4}, 11, 21}));
  auto e = store_->GetCollateral("tcb/00906ED50000");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->value, std::vector<uint8_t>{4});
  EXPECT_EQ(e->next_update, 21);
  EXPECT_TRUE(store_->Ping());
}

TEST(StoreOpenTest, UnusablePathsAreExplained) {
  auto not_db = OpenSqliteStore("/etc/passwd", {.busy_timeout_ms = 100, .create = false});
  ASSERT_FALSE(not_db);
  EXPECT_THAT(not_db.error().message(), HasSubstr("/etc/passwd"));
  auto missing =
      OpenSqliteStore("/nonexistent-dir/x.db", {.busy_timeout_ms = 100, .create = false});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace kmra::store
