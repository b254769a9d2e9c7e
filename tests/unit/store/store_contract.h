// Checks both Store implementations make alike (SQLite in sqlite_store_test.cc, PostgreSQL in
// postgres_store_test.cc): nonces spent only with their audit record, and opaque key ids.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace kmra::store::testing {

inline size_t AuditCount(Store& s) {
  auto records = s.ListAudit({0, 0, 10000});
  EXPECT_TRUE(records) << records.error().ToString();
  return records ? records->size() : 0;
}

// A release claims its nonce in the same transaction as its audit record; a refused claim writes
// nothing, and checking never uses a nonce.
inline void NonceIsSpentOnlyWithItsAuditRecord(Store& s) {
  using ::testing::HasSubstr;
  const std::vector<uint8_t> issued(32, 0x61), expired(32, 0x62), unknown(32, 0x63);
  const std::vector<uint8_t> client(32, 0x64);
  ASSERT_TRUE(s.PutNonce(issued, NonceKind::kServerIssued, 1300));
  ASSERT_TRUE(s.PutNonce(expired, NonceKind::kServerIssued, 1100));
  const size_t before = AuditCount(s);
  // Checking, as /sgx/attest and refused releases do, any number of times: still usable.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(s.CheckNonce(issued, NonceKind::kServerIssued, 1200));
    EXPECT_TRUE(s.CheckNonce(client, NonceKind::kClientSeen, 1200));
  }
  EXPECT_EQ(s.CheckNonce(expired, NonceKind::kServerIssued, 1200).error().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(s.CheckNonce(unknown, NonceKind::kServerIssued, 1200).error().code(), Code::kNotFound);
  // The successful release: record and claim together.
  ASSERT_TRUE(
      s.AppendAuditClaimingNonce(R"({"r":1})", 1200, {issued, NonceKind::kServerIssued, 1200, 0}));
  ASSERT_TRUE(
      s.AppendAuditClaimingNonce(R"({"r":2})", 1200, {client, NonceKind::kClientSeen, 1200, 1500}));
  EXPECT_EQ(AuditCount(s), before + 2);
  // Replays: refused, and nothing written.
  auto again =
      s.AppendAuditClaimingNonce(R"({"r":3})", 1201, {issued, NonceKind::kServerIssued, 1201, 0});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kFailedPrecondition);
  EXPECT_THAT(again.error().message(), HasSubstr("already used"));
  auto replay =
      s.AppendAuditClaimingNonce(R"({"r":4})", 1201, {client, NonceKind::kClientSeen, 1201, 1500});
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code(), Code::kAlreadyExists);
  EXPECT_FALSE(
      s.AppendAuditClaimingNonce(R"({"r":5})", 1201, {expired, NonceKind::kServerIssued, 1201, 0}));
  EXPECT_EQ(s.CheckNonce(client, NonceKind::kClientSeen, 1201).error().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(AuditCount(s), before + 2);
  auto verdict = s.VerifyAuditChain();
  ASSERT_TRUE(verdict);
  EXPECT_TRUE(verdict->intact) << verdict->problem;
  // The table shrinks as nonces expire and are purged.
  auto rows = s.CountNonces();
  ASSERT_TRUE(rows);
  ASSERT_TRUE(s.PurgeExpiredNonces(1400));
  EXPECT_EQ(*s.CountNonces(), *rows - 2);  // `issued` and `expired`; the client record stays
  ASSERT_TRUE(s.PurgeExpiredNonces(1600));
  EXPECT_EQ(*s.CountNonces(), *rows - 3);
}

// Key ids are opaque printable ASCII up to 255 bytes, '/' and ':' included (KMRA h_unique_id).
inline void KeyIdsAreOpaquePrintableAscii(Store& s) {
  for (const std::string& id : {std::string("tcsissuer.tcs.intel.com/sandbox.external-ca"),
                                std::string("urn:kmra:key 1"), std::string(255, 'k')}) {
    ASSERT_TRUE(s.CreateKey({id, "", 1})) << id;
    EXPECT_EQ(s.GetKey(id)->id, id);
  }
  for (const std::string& id :
       {std::string(), std::string(256, 'k'), std::string("a\nb"), std::string("caf\xc3\xa9")}) {
    auto refused = s.CreateKey({id, "", 1});
    ASSERT_FALSE(refused) << id;
    EXPECT_EQ(refused.error().code(), Code::kInvalidArgument);
  }
}

// A verify reads its own snapshot on its own connection: appends go on beside it, and every verdict
// is intact (a snapshot never sees half an append).
inline void VerifyRunsBesideAppends(Store& s) {
  std::atomic<bool> done{false};
  std::atomic<int> appended{0};
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      if (s.AppendAudit(R"({"beside":)" + std::to_string(i) + "}", 2000 + i)) ++appended;
    }
    done = true;
  });
  int verifies = 0;
  while (!done || verifies == 0) {
    auto verdict = s.VerifyAuditChain();
    ASSERT_TRUE(verdict) << verdict.error().ToString();
    EXPECT_TRUE(verdict->intact) << verdict->problem;
    ++verifies;
  }
  writer.join();
  EXPECT_EQ(appended.load(), 200);
  auto last = s.VerifyAuditChain();
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->intact);
  EXPECT_GE(last->records, 200);
}

// A lease is held by one holder until it expires; its holder renews it, others get it once it ran
// out.
inline void LeasesAreHeldByOneHolderUntilTheyExpire(Store& s) {
  EXPECT_TRUE(*s.TryLease("refresh/a", "r1", 100, 60));   // free: r1 until 160
  EXPECT_FALSE(*s.TryLease("refresh/a", "r2", 120, 60));  // r1's runs
  EXPECT_TRUE(*s.TryLease("refresh/b", "r2", 120, 60));   // another name is another lease
  EXPECT_TRUE(*s.TryLease("refresh/a", "r1", 130, 60));   // renewed: until 190
  EXPECT_FALSE(*s.TryLease("refresh/a", "r2", 189, 60));
  EXPECT_TRUE(*s.TryLease("refresh/a", "r2", 190, 60));  // expired: r2's until 250
  EXPECT_FALSE(*s.TryLease("refresh/a", "r1", 191, 60));
}

}  // namespace kmra::store::testing
