#include "collateral/cache.h"

#include <utility>

#include "collateral/internal/codec.h"

namespace kmra::collateral {

namespace {
std::string StoreKey(const CollateralKey& key) { return "collateral/" + key.ToString(); }
}  // namespace

CachedSource::CachedSource(store::Store& store, std::unique_ptr<CollateralSource> upstream,
                           const Clock& clock, CacheOptions options)
    : store_(store), upstream_(std::move(upstream)), clock_(clock), options_(std::move(options)) {}

Result<CachedCollateral> CachedSource::Refresh(const CollateralKey& key) {
  KMRA_ASSIGN_OR_RETURN(auto fresh, upstream_->Get(key));
  auto next = internal::EarliestNextUpdate(fresh);
  if (!next) {
    return tl::unexpected(next.error().WithContext(upstream_->Describe() + " for " + key.ToString()));
  }
  CachedCollateral out;
  out.collateral = std::move(fresh);
  out.fetched_at = clock_.NowUnix();
  out.next_update = *next;
  store::CollateralEntry entry;
  entry.key = StoreKey(key);
  entry.value = internal::EncodeCollateral(out.collateral);
  entry.fetched_at = out.fetched_at;
  entry.next_update = out.next_update;
  // A store that cannot write still lets us serve what we just fetched.
  auto put = store_.PutCollateral(entry);
  if (!put) out.refresh_error = "fetched but not cached: " + put.error().message();
  return out;
}

Result<CachedCollateral> CachedSource::Lookup(const CollateralKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.NowUnix();

  std::optional<CachedCollateral> cached;
  std::string cache_problem;
  auto entry = store_.GetCollateral(StoreKey(key));
  if (entry) {
    auto decoded = internal::DecodeCollateral(entry->value);
    if (decoded) {
      cached.emplace();
      cached->collateral = std::move(*decoded);
      cached->fetched_at = entry->fetched_at;
      cached->next_update = entry->next_update;
    } else {
      cache_problem = decoded.error().message();
    }
  } else if (entry.error().code() != Code::kNotFound) {
    cache_problem = entry.error().message();
  }

  const bool fresh_enough =
      cached && now < cached->next_update - options_.refresh_ahead_seconds &&
      (options_.max_age_seconds <= 0 || now - cached->fetched_at <= options_.max_age_seconds);
  if (fresh_enough) {
    cached->from_cache = true;
    return std::move(*cached);
  }

  if (cached && !options_.lease_holder.empty() && now <= cached->next_update &&
      (options_.max_age_seconds <= 0 || now - cached->fetched_at <= options_.max_age_seconds)) {
    auto held = store_.TryLease("collateral-refresh/" + key.ToString(), options_.lease_holder, now,
                                options_.lease_seconds);
    if (held && !*held) {  // another replica refreshes it; what it stores is read next time
      cached->from_cache = true;
      return std::move(*cached);
    }
  }

  auto refreshed = Refresh(key);
  if (refreshed) {
    refreshed->stale = now > refreshed->next_update;
    return refreshed;
  }
  if (!cached) {
    if (!cache_problem.empty()) {
      return DataLoss("cached collateral for " + key.ToString() + " is unreadable (" +
                      cache_problem + ") and refreshing failed: " + refreshed.error().message());
    }
    return tl::unexpected(refreshed.error());
  }
  cached->from_cache = true;
  cached->refresh_error = refreshed.error().message();
  cached->stale = now > cached->next_update;
  return std::move(*cached);
}

Result<dcap::Collateral> CachedSource::Get(const CollateralKey& key) {
  KMRA_ASSIGN_OR_RETURN(auto c, Lookup(key));
  const int64_t now = clock_.NowUnix();
  if (c.stale) {
    return FailedPrecondition(
        "collateral for " + key.ToString() + " is stale: its nextUpdate " +
        FormatRfc3339(c.next_update) + " has passed and it could not be refreshed" +
        (c.refresh_error.empty() ? std::string() : " (" + c.refresh_error + ")"));
  }
  if (options_.max_age_seconds > 0 && now - c.fetched_at > options_.max_age_seconds) {
    return FailedPrecondition("collateral for " + key.ToString() + " was fetched at " +
                              FormatRfc3339(c.fetched_at) + ", more than the allowed " +
                              std::to_string(options_.max_age_seconds) +
                              " s ago, and could not be refreshed" +
                              (c.refresh_error.empty() ? std::string() : " (" + c.refresh_error + ")"));
  }
  return std::move(c.collateral);
}

}  // namespace kmra::collateral
