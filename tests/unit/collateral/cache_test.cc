#include "collateral/cache.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "collateral/fallback_source.h"
#include "collateral/offline_source.h"
#include "collateral/pcs_client.h"
#include "pccs_fixture.h"

namespace kmra::collateral {
namespace {

namespace fs = std::filesystem;
using testing::PccsServer;

const std::string kCase = std::string(KMRA_TEST_DATA) + "/dcap/dcap-qvl_sgx";
constexpr char kFmspc[] = "00A067110000";
// Inside the case's collateral window; its earliest nextUpdate is 2025-07-19T10:01:18Z.
constexpr int64_t kStart = 1750400000;
constexpr int64_t kNextUpdate = 1752919278;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "kmra-collateral-XXXXXX").string();
    path_ = ::mkdtemp(t.data()) ? t : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<CollateralSource> Pccs(const std::string& url) {
  PcsOptions o;
  o.base_urls = {url};
  o.timeout_ms = 5000;
  o.root_ca_crl_url.clear();
  return std::move(PcsClient::Create(o).value());
}

CollateralKey Key() { return CollateralKey::Make(kFmspc, "SGX", "processor").value(); }

TEST(CachedSource, KeepsServingWhenThePccsIsGoneAndReportsStalenessAfterNextUpdate) {
  TempDir dir;
  auto store = store::OpenSqliteStore((dir.path() / "state.db").string());
  ASSERT_TRUE(store) << store.error().ToString();
  FakeClock clock(kStart);
  PccsServer pccs(kCase, "processor");
  ASSERT_NE(pccs.port(), 0);
  CachedSource cache(**store, Pccs(pccs.url()), clock);

  auto first = cache.Lookup(Key());
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(first->from_cache);
  EXPECT_EQ(first->fetched_at, kStart);
  EXPECT_EQ(first->next_update, kNextUpdate);
  EXPECT_FALSE(first->stale);

  pccs.Stop();
  // Fresh: served from the store without asking anyone.
  clock.Advance(3600);
  auto cached = cache.Lookup(Key());
  ASSERT_TRUE(cached) << cached.error().ToString();
  EXPECT_TRUE(cached->from_cache);
  EXPECT_TRUE(cached->refresh_error.empty());
  EXPECT_EQ(cached->collateral.tcb_info_json, first->collateral.tcb_info_json);

  // Inside the refresh window: the refresh fails, the still-valid entry is served and says why.
  clock.Set(kNextUpdate - 3600);
  auto ahead = cache.Lookup(Key());
  ASSERT_TRUE(ahead);
  EXPECT_TRUE(ahead->from_cache);
  EXPECT_FALSE(ahead->stale);
  EXPECT_NE(ahead->refresh_error.find("127.0.0.1"), std::string::npos) << ahead->refresh_error;
  EXPECT_TRUE(cache.Get(Key()));

  // Past nextUpdate: reported stale, and Get refuses it.
  clock.Set(kNextUpdate + 1);
  auto late = cache.Lookup(Key());
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->stale);
  auto refused = cache.Get(Key());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("stale"), std::string::npos);
  EXPECT_NE(refused.error().message().find("2025-07-19T10:01:18Z"), std::string::npos)
      << refused.error().message();
}

TEST(CachedSource, SurvivesARestartWithTheServerDown) {
  TempDir dir;
  const std::string db = (dir.path() / "state.db").string();
  FakeClock clock(kStart);
  {
    auto store = store::OpenSqliteStore(db);
    ASSERT_TRUE(store);
    PccsServer pccs(kCase, "processor");
    ASSERT_NE(pccs.port(), 0);
    CachedSource cache(**store, Pccs(pccs.url()), clock);
    ASSERT_TRUE(cache.Get(Key()));
  }
  auto store = store::OpenSqliteStore(db);
  ASSERT_TRUE(store);
  CachedSource cache(**store, Pccs(testing::DeadUrl()), clock);
  auto c = cache.Get(Key());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_FALSE(c->tcb_info_json.empty());
  // Another FMSPC was never cached: the upstream error comes through.
  auto other = cache.Get("00906ED50000", "SGX", "processor");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), Code::kUnavailable);
}

TEST(CachedSource, EnforcesTheCallersMaximumAge) {
  TempDir dir;
  auto store = store::OpenSqliteStore((dir.path() / "state.db").string());
  ASSERT_TRUE(store);
  FakeClock clock(kStart);
  const fs::path bundle = dir.path() / "bundles";
  fs::create_directories(bundle);
  fs::copy(kCase, bundle / kFmspc);
  CacheOptions options;
  options.max_age_seconds = 3600;
  CachedSource cache(**store, std::make_unique<OfflineSource>(bundle.string()), clock, options);
  ASSERT_TRUE(cache.Get(Key()));
  fs::remove_all(bundle / kFmspc);  // the source loses it
  clock.Advance(1800);
  EXPECT_TRUE(cache.Get(Key()));
  clock.Advance(3600);
  auto old = cache.Get(Key());
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(old.error().message().find("3600"), std::string::npos) << old.error().message();
  // The source comes back: a new fetch satisfies the age limit again.
  fs::copy(kCase, bundle / kFmspc);
  EXPECT_TRUE(cache.Get(Key()));
}

TEST(OfflineSource, ReadsBundleDirectoriesByFmspc) {
  TempDir dir;
  fs::copy(kCase, dir.path() / "00a067110000");
  OfflineSource offline(dir.path().string());
  auto c = offline.Get(kFmspc, "SGX", "processor");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_FALSE(c->pck_crl_der.empty());
  auto missing = offline.Get("00906ED50000", "SGX", "processor");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_NE(missing.error().message().find("00906ED50000"), std::string::npos);
}

TEST(FallbackSource, TriesSourcesInOrder) {
  TempDir dir;
  fs::copy(kCase, dir.path() / kFmspc);
  std::vector<std::unique_ptr<CollateralSource>> sources;
  sources.push_back(Pccs(testing::DeadUrl()));
  sources.push_back(std::make_unique<OfflineSource>(dir.path().string()));
  FallbackSource fallback(std::move(sources));
  EXPECT_TRUE(fallback.Get(kFmspc, "SGX", "processor"));
  auto none = fallback.Get("00906ED50000", "SGX", "processor");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("offline:"), std::string::npos);
  EXPECT_NE(none.error().message().find("pcs:"), std::string::npos);
}

TEST(CachedSource, CorruptUpstreamCollateralIsNotCached) {
  TempDir dir;
  auto store = store::OpenSqliteStore((dir.path() / "state.db").string());
  ASSERT_TRUE(store);
  FakeClock clock(kStart);
  PccsServer pccs(kCase, "processor", {"--truncate-tcb"});
  ASSERT_NE(pccs.port(), 0);
  CachedSource cache(**store, Pccs(pccs.url()), clock);
  auto c = cache.Get(Key());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Code::kDataLoss);
  EXPECT_FALSE((*store)->GetCollateral("collateral/SGX/00A067110000/processor"));
}

TEST(CachedSource, ACorruptCacheRowIsReplacedOrReportedAsDataLoss) {
  TempDir dir;
  auto store = store::OpenSqliteStore((dir.path() / "state.db").string());
  ASSERT_TRUE(store);
  store::CollateralEntry junk;
  junk.key = "collateral/SGX/00A067110000/processor";
  junk.value = {'{', '"', 'f'};
  junk.next_update = kNextUpdate;
  ASSERT_TRUE((*store)->PutCollateral(junk));
  FakeClock clock(kStart);

  CachedSource down(**store, Pccs(testing::DeadUrl()), clock);
  auto c = down.Get(Key());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Code::kDataLoss);
  EXPECT_NE(c.error().message().find("unreadable"), std::string::npos) << c.error().message();

  const fs::path bundle = dir.path() / "bundles";
  fs::create_directories(bundle);
  fs::copy(kCase, bundle / kFmspc);
  CachedSource up(**store, std::make_unique<OfflineSource>(bundle.string()), clock);
  ASSERT_TRUE(up.Get(Key()));
  fs::remove_all(bundle / kFmspc);
  EXPECT_TRUE(up.Get(Key())) << "the repaired row is served from the cache";
}

}  // namespace
}  // namespace kmra::collateral
