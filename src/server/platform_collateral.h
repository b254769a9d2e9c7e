// The key server's view of collateral per platform: the configured source chain
// (cache(fallback(PCCS, offline dir)) or the offline dir alone, see collateral_chain.h) behind an
// in-memory map with a short recheck interval, so a release whose platform has fresh collateral
// touches neither SQLite nor the network, and the verifier gets the collateral by shared pointer
// (no copy per request).
//
// Freshness: an entry is usable while `now` is before its earliest nextUpdate and, when a maximum
// age is set, it was fetched recently enough. Stale collateral is kept (to report it) but never
// handed out as usable; callers refuse with its Problem().
//
// Thread safe. Refreshes are serialised (one at a time); while one runs, other callers get the
// still-current entry at once, and wait only when theirs is not usable.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "collateral/cache.h"
#include "collateral/source.h"
#include "dcap/collateral.h"

namespace kmra::server {

// What the server knows about one platform's collateral. Immutable once published.
struct PlatformEntry {
  collateral::CollateralKey key;
  std::shared_ptr<const dcap::Collateral> collateral;  // null when none could be loaded
  std::int64_t next_update = 0;  // earliest nextUpdate of its parts (unix seconds)
  std::int64_t fetched_at = 0;   // when its source delivered it
  std::string origin;            // "cache" or the source that delivered it ("pccs:https://...")
  std::string refresh_error;     // why the last refresh failed; "" when it worked or was not due
  std::string error;             // why no collateral loads at all (collateral == nullptr)
  std::int64_t checked_at = 0;   // when the source chain was last asked

  // Loaded, before its nextUpdate at `now`, and (max_age > 0) fetched at most max_age ago.
  bool UsableAt(std::int64_t now, std::int64_t max_age) const;
  // Why the entry is not usable at `now`, for a person: names the platform, the FMSPC, the
  // nextUpdate or fetch time, and why refreshing failed. "" when usable.
  std::string Problem(std::int64_t now, std::int64_t max_age) const;
};

struct PlatformCollateralOptions {
  std::int64_t recheck_seconds = 60;  // a usable entry is re-asked from the chain after this
  std::int64_t retry_seconds = 10;    // a stale or failed entry is retried after this
  std::int64_t max_age_seconds = 0;   // 0: only nextUpdate limits use
  std::vector<collateral::CollateralKey> platforms;  // known from the start (configuration)
  std::string offline_dir;        // listed for more known platforms (DIR/<FMSPC>[-ca]/)
  bool upstream_network = false;  // a PCCS/PCS is configured (readiness with no platform yet)
  // At most this many platforms are held; beyond it the least recently used one that is not
  // configured in `platforms` is forgotten (a client sending quotes with ever new FMSPCs cannot
  // grow the map).
  std::size_t max_entries = 256;
};

class PlatformCollateral {
 public:
  // Exactly one of `cache` (a PCCS is configured) and `direct` (offline only) is set; both null
  // means no source is configured, and every lookup says so. `on_origin` points at the string
  // the chain's recording sources write the delivering source into (see collateral_chain.h).
  PlatformCollateral(PlatformCollateralOptions options,
                     std::unique_ptr<collateral::CachedSource> cache,
                     std::unique_ptr<collateral::CollateralSource> direct,
                     std::shared_ptr<std::string> last_origin, std::string description);

  // The entry for `key` at `now`, refreshed from the chain when due. Fails only when nothing
  // loads for the platform (Unavailable, naming the key and the chain's errors). The returned
  // entry may be stale: check UsableAt.
  Result<std::shared_ptr<const PlatformEntry>> For(const collateral::CollateralKey& key,
                                                   std::int64_t now);

  // Every known platform (configured, in the offline dir, or seen in a quote), each refreshed
  // when due; failed ones have collateral == nullptr and `error` set.
  std::vector<std::shared_ptr<const PlatformEntry>> Known(std::int64_t now);

  // The entries as they are now, without asking the chain (for /readyz, which must never fetch:
  // a background refresher calls Known()).
  std::vector<std::shared_ptr<const PlatformEntry>> Snapshot();

  // The first known SGX platform matching `accept` whose collateral is usable at `now`, for the
  // PCCS-compatible paths whose documents are shared by platforms. NotFound when none is known,
  // FailedPrecondition (with the first problem) when none is usable.
  Result<std::shared_ptr<const PlatformEntry>> AnyUsable(
      std::int64_t now, const std::function<bool(const collateral::CollateralKey&)>& accept);

  std::int64_t max_age() const { return options_.max_age_seconds; }
  bool upstream_network() const { return options_.upstream_network; }
  bool configured() const { return cache_ || direct_; }
  // The chain, e.g. "cache(pccs:https://pccs:8081 then offline:/etc/kmra/collateral)".
  const std::string& Describe() const { return description_; }

 private:
  std::shared_ptr<const PlatformEntry> Refresh(
      const collateral::CollateralKey& key, std::int64_t now,
      const std::shared_ptr<const PlatformEntry>& previous);
  std::vector<collateral::CollateralKey> KnownKeys();
  // For(), and whether the lookup counts as use for the LRU bound.
  Result<std::shared_ptr<const PlatformEntry>> Lookup(const collateral::CollateralKey& key,
                                                      std::int64_t now, bool touch);

  PlatformCollateralOptions options_;
  std::unique_ptr<collateral::CachedSource> cache_;
  std::unique_ptr<collateral::CollateralSource> direct_;
  std::shared_ptr<std::string> last_origin_;  // written by the chain under refresh_mu_
  std::string description_;
  std::mutex refresh_mu_;
  std::mutex map_mu_;
  std::map<std::string, std::shared_ptr<const PlatformEntry>> entries_;  // by key.ToString()
  std::map<std::string, std::int64_t> last_used_;  // by key.ToString(), under map_mu_
  // Forgets least recently used, unconfigured entries beyond max_entries (map_mu_ held).
  void EvictLocked(const std::string& keep);
};

}  // namespace kmra::server
