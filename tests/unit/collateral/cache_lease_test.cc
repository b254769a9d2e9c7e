// Replicas sharing one store take turns refreshing a platform's collateral (CacheOptions
// lease_holder): while the cached entry is current only the lease holder asks upstream, the others
// serve the cached entry; an expired lease passes on, and stale collateral is fetched by anyone.
#include <gtest/gtest.h>

#include <filesystem>

#include "collateral/cache.h"
#include "collateral/offline_source.h"

namespace kmra::collateral {
namespace {

namespace fs = std::filesystem;

const std::string kCase = std::string(KMRA_TEST_DATA) + "/dcap/dcap-qvl_sgx";
constexpr char kFmspc[] = "00A067110000";
constexpr int64_t kStart = 1750400000;       // inside the case's collateral window
constexpr int64_t kNextUpdate = 1752919278;  // its earliest nextUpdate

// Counts the fetches that reach upstream.
class CountingSource final : public CollateralSource {
 public:
  CountingSource(std::string root, int* fetches) : inner_(std::move(root)), fetches_(fetches) {}
  using CollateralSource::Get;
  Result<dcap::Collateral> Get(const CollateralKey& key) override {
    ++*fetches_;
    return inner_.Get(key);
  }
  std::string Describe() const override { return inner_.Describe(); }

 private:
  OfflineSource inner_;
  int* fetches_;
};

TEST(CachedSourceLease, OneReplicaRefreshesAPlatformWhileTheOthersReadTheCache) {
  std::string tmpl = (fs::temp_directory_path() / "kmra-lease-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  fs::create_directories(dir / "bundles");
  fs::copy(kCase, dir / "bundles" / kFmspc);
  auto store = store::OpenSqliteStore((dir / "state.db").string());
  ASSERT_TRUE(store) << store.error().ToString();
  FakeClock clock(kStart);
  // Every lookup is inside the refresh window, so each one would ask upstream without the lease.
  CacheOptions options;
  options.refresh_ahead_seconds = kNextUpdate - kStart + 3600;
  options.lease_seconds = 60;
  int fetches[2] = {0, 0};
  std::vector<std::unique_ptr<CachedSource>> replicas;
  for (int i = 0; i < 2; ++i) {
    options.lease_holder = "r" + std::to_string(i + 1);
    replicas.push_back(std::make_unique<CachedSource>(
        **store, std::make_unique<CountingSource>((dir / "bundles").string(), &fetches[i]), clock,
        options));
  }
  const CollateralKey key = CollateralKey::Make(kFmspc, "SGX", "processor").value();

  ASSERT_TRUE(replicas[0]->Get(key));  // nothing cached: fetched
  ASSERT_TRUE(replicas[0]->Get(key));  // r1 takes the lease and refreshes
  EXPECT_EQ(fetches[0], 2);
  for (int i = 0; i < 5; ++i) {
    auto served = replicas[1]->Lookup(key);
    ASSERT_TRUE(served) << served.error().ToString();
    EXPECT_TRUE(served->from_cache);
    EXPECT_FALSE(served->stale);
    clock.Advance(10);
  }
  EXPECT_EQ(fetches[1], 0) << "r2 asked upstream while r1 held the lease";

  clock.Advance(60);  // r1's lease ran out: r2 takes it, and now r1 reads the cache
  ASSERT_TRUE(replicas[1]->Get(key));
  EXPECT_EQ(fetches[1], 1);
  ASSERT_TRUE(replicas[0]->Get(key));
  EXPECT_EQ(fetches[0], 2);

  // Past nextUpdate the cached entry is stale: a replica without the lease asks upstream anyway
  // rather than refuse on stale collateral.
  clock.Set(kNextUpdate + 1);
  ASSERT_TRUE(
      *(*store)->TryLease("collateral-refresh/" + key.ToString(), "r2", clock.NowUnix(), 60));
  (void)replicas[0]->Lookup(key);
  EXPECT_EQ(fetches[0], 3);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kmra::collateral
