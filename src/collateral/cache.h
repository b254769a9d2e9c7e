// A collateral cache in the state store (SQLite by default) in front of an upstream source.
//
// - Fresh entries are served from the store without asking upstream.
// - From `refresh_ahead` seconds before the earliest nextUpdate of an entry, each lookup tries to
//   refresh it; if upstream fails, the cached entry keeps being served while it is still valid.
// - Past its nextUpdate an entry is stale: Lookup reports it as such, Get refuses it. Stale
//   collateral is never handed out as if it were current.
// - A caller may demand collateral fetched no longer than `max_age` ago.
//
// Thread safe; lookups of the same key are serialised so one refresh serves all waiters.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.h"
#include "collateral/source.h"
#include "store/store.h"

namespace kmra::collateral {

struct CacheOptions {
  // Refresh inside the last day before nextUpdate.
  int64_t refresh_ahead_seconds = int64_t{24} * 3600;
  int64_t max_age_seconds = 0;                // 0: no limit besides nextUpdate
  // Replicas sharing the store: while a cached entry is still current, only the holder of the
  // platform's refresh lease (Store::TryLease, `lease_seconds` long) asks upstream; the others
  // serve the cached entry and read what the holder stores. "": every lookup may refresh.
  std::string lease_holder;
  int64_t lease_seconds = 60;
};

// What a lookup found, with the facts a caller needs to decide and to report.
struct CachedCollateral {
  dcap::Collateral collateral;
  int64_t fetched_at = 0;    // when upstream delivered it
  int64_t next_update = 0;   // earliest nextUpdate of its parts
  bool stale = false;        // now > next_update
  bool from_cache = false;   // served without a successful upstream fetch in this lookup
  std::string refresh_error; // why upstream failed in this lookup, "" if it was not asked or worked
};

class CachedSource final : public CollateralSource {
 public:
  // `store` and `clock` must outlive the cache.
  CachedSource(store::Store& store, std::unique_ptr<CollateralSource> upstream, const Clock& clock,
               CacheOptions options = {});

  // Finds or fetches collateral. Fails only when there is nothing to serve at all: no cached
  // entry and upstream failed (its error), or the cached entry is unreadable (DataLoss) and
  // upstream failed. A stale or too-old entry is returned with `stale` set / `fetched_at` telling.
  Result<CachedCollateral> Lookup(const CollateralKey& key);

  using CollateralSource::Get;
  // Lookup, then FailedPrecondition when the collateral is stale (naming its nextUpdate and why
  // the refresh failed) or older than max_age.
  Result<dcap::Collateral> Get(const CollateralKey& key) override;
  std::string Describe() const override { return "cache(" + upstream_->Describe() + ")"; }

 private:
  Result<CachedCollateral> Refresh(const CollateralKey& key);

  store::Store& store_;
  std::unique_ptr<CollateralSource> upstream_;
  const Clock& clock_;
  CacheOptions options_;
  std::mutex mu_;
};

}  // namespace kmra::collateral
