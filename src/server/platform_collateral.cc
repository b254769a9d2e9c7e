#include "server/platform_collateral.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "base/clock.h"
#include "base/file.h"
#include "crypto/ossl.h"

namespace kmra::server {

namespace {

// Which PCK CA a bundle directory's pckCrl.der|.pem is from ("platform" or "processor"), by its
// issuer's name (Intel SGX PCK Platform CA / Intel SGX PCK Processor CA). "processor" when unknown.
std::string PckCaOfBundle(const std::filesystem::path& dir) {
  for (const char* name : {"pckCrl.der", "pckCrl.pem"}) {
    auto bytes = ReadFileBytes(dir / name, 1 << 20);
    if (!bytes) continue;
    auto der = dcap::CrlToDer(*bytes);
    if (!der) continue;
    const unsigned char* p = der->data();
    auto crl = ossl::Wrap(d2i_X509_CRL(nullptr, &p, static_cast<long>(der->size())));
    if (!crl) {
      ERR_clear_error();
      continue;
    }
    char issuer[512] = {};
    X509_NAME_oneline(X509_CRL_get_issuer(crl.get()), issuer, sizeof(issuer));
    return std::string(issuer).find("Platform") != std::string::npos ? "platform" : "processor";
  }
  return "processor";
}

}  // namespace

bool PlatformEntry::UsableAt(std::int64_t now, std::int64_t max_age) const {
  if (!collateral) return false;
  if (now >= next_update) return false;
  return max_age <= 0 || now - fetched_at <= max_age;
}

std::string PlatformEntry::Problem(std::int64_t now, std::int64_t max_age) const {
  if (UsableAt(now, max_age)) return {};
  const std::string who = "collateral for " + key.ToString() + " (FMSPC " + key.fmspc + ")";
  if (!collateral) return "no " + who + " loads: " + error;
  std::string why;
  if (!refresh_error.empty()) {
    why = "refreshing it failed: " + refresh_error;
  } else if (origin != "cache") {
    why = origin +
          " delivered it already past its nextUpdate; its publisher has not issued newer "
          "collateral";
  } else {
    why = "it was not refreshed";
  }
  if (now >= next_update) {
    return who + " is stale: its nextUpdate " + FormatRfc3339(next_update) + " has passed, and " +
           why +
           ". Releases for this platform resume once fresh collateral is available (the PCCS "
           "answers again, or a newer offline bundle is installed)";
  }
  return who + " was fetched at " + FormatRfc3339(fetched_at) + ", more than collateral_max_age " +
         std::to_string(max_age) + " s ago, and " + why;
}

PlatformCollateral::PlatformCollateral(PlatformCollateralOptions options,
                                       std::unique_ptr<collateral::CachedSource> cache,
                                       std::unique_ptr<collateral::CollateralSource> direct,
                                       std::shared_ptr<std::string> last_origin,
                                       std::string description)
    : options_(std::move(options)),
      cache_(std::move(cache)),
      direct_(std::move(direct)),
      last_origin_(last_origin ? std::move(last_origin) : std::make_shared<std::string>()),
      description_(std::move(description)) {}

std::shared_ptr<const PlatformEntry> PlatformCollateral::Refresh(
    const collateral::CollateralKey& key, std::int64_t now,
    const std::shared_ptr<const PlatformEntry>& previous) {
  auto out = std::make_shared<PlatformEntry>();
  out->key = key;
  out->checked_at = now;
  last_origin_->clear();
  if (cache_) {
    auto found = cache_->Lookup(key);
    if (found) {
      out->fetched_at = found->fetched_at;
      out->next_update = found->next_update;
      out->refresh_error = found->refresh_error;
      out->origin = found->from_cache ? "cache" : *last_origin_;
      if (out->origin.empty()) out->origin = cache_->Describe();
      // One copy per refresh; every release until the next one shares it.
      out->collateral = std::make_shared<const dcap::Collateral>(std::move(found->collateral));
    } else {
      out->error = found.error().message();
    }
  } else if (direct_) {
    auto got = direct_->Get(key);
    if (got) {
      auto next = collateral::EarliestNextUpdate(*got);
      if (next) {
        out->next_update = *next;
        out->fetched_at = now;
        out->origin = last_origin_->empty() ? direct_->Describe() : *last_origin_;
        out->collateral = std::make_shared<const dcap::Collateral>(std::move(*got));
      } else {
        out->error = direct_->Describe() + ": " + next.error().message();
      }
    } else {
      out->error = got.error().message();
    }
  } else {
    out->error = "no collateral source is configured ([attestation] collateral_dir or pccs_url)";
  }
  // A source that fails now does not take away collateral that is still current.
  if (!out->collateral && previous && previous->collateral &&
      previous->UsableAt(now, options_.max_age_seconds)) {
    auto kept = std::make_shared<PlatformEntry>(*previous);
    kept->refresh_error = out->error;
    kept->checked_at = now;
    out = std::move(kept);
  }
  // Log transitions, not every refresh.
  const bool usable = out->UsableAt(now, options_.max_age_seconds);
  const bool was_usable = previous && previous->UsableAt(now, options_.max_age_seconds);
  if (!usable && (was_usable || !previous || previous->refresh_error != out->refresh_error ||
                  previous->error != out->error)) {
    spdlog::warn("{}", out->Problem(now, options_.max_age_seconds));
  } else if (usable && (!previous || !was_usable || previous->fetched_at != out->fetched_at)) {
    spdlog::info("collateral for {} from {}: current until {}{}", key.ToString(), out->origin,
                 FormatRfc3339(out->next_update),
                 out->refresh_error.empty() ? "" : " (refresh failed: " + out->refresh_error + ")");
  }
  return out;
}

Result<std::shared_ptr<const PlatformEntry>> PlatformCollateral::For(
    const collateral::CollateralKey& key, std::int64_t now) {
  return Lookup(key, now, /*touch=*/true);
}

Result<std::shared_ptr<const PlatformEntry>> PlatformCollateral::Lookup(
    const collateral::CollateralKey& key, std::int64_t now, bool touch) {
  const std::string name = key.ToString();
  auto due = [&](const std::shared_ptr<const PlatformEntry>& e) {
    if (!e || now < e->checked_at) return true;
    const bool usable = e->UsableAt(now, options_.max_age_seconds);
    return now - e->checked_at >= (usable ? options_.recheck_seconds : options_.retry_seconds);
  };
  std::shared_ptr<const PlatformEntry> entry;
  {
    std::lock_guard<std::mutex> lock(map_mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) entry = it->second;
    // Only lookups for quotes count as use; the background refresh (Known) must not keep every
    // entry recently used.
    if (touch) {
      last_used_[name] = now;
    } else {
      last_used_.try_emplace(name, now);
    }
  }
  if (due(entry)) {
    // While one thread refreshes (possibly waiting on a slow PCCS), others keep using a still
    // current entry instead of queueing behind it.
    std::unique_lock<std::mutex> refresh(refresh_mu_, std::try_to_lock);
    if (!refresh.owns_lock()) {
      if (entry && entry->UsableAt(now, options_.max_age_seconds)) return entry;
      refresh.lock();
    }
    {
      // Another thread may have refreshed it while this one waited.
      std::lock_guard<std::mutex> lock(map_mu_);
      auto it = entries_.find(name);
      if (it != entries_.end()) entry = it->second;
    }
    if (due(entry)) {
      entry = Refresh(key, now, entry);
      std::lock_guard<std::mutex> lock(map_mu_);
      entries_[name] = entry;
      last_used_.try_emplace(name, now);
      EvictLocked(name);
    }
  }
  if (!entry->collateral) {
    return Unavailable("no collateral for " + name + " from " + description_ + ": " + entry->error);
  }
  return entry;
}

void PlatformCollateral::EvictLocked(const std::string& keep) {
  auto configured = [&](const std::string& name) {
    return std::any_of(options_.platforms.begin(), options_.platforms.end(),
                       [&](const collateral::CollateralKey& k) { return k.ToString() == name; });
  };
  while (entries_.size() > options_.max_entries) {
    std::string victim;
    std::int64_t oldest = 0;
    for (const auto& [name, e] : entries_) {
      if (name == keep || configured(name)) continue;
      const auto used = last_used_.find(name);
      const std::int64_t t = used == last_used_.end() ? 0 : used->second;
      if (victim.empty() || t < oldest) {
        victim = name;
        oldest = t;
      }
    }
    if (victim.empty()) return;  // only configured platforms left
    entries_.erase(victim);
    last_used_.erase(victim);
  }
  // Keys looked up but never stored (failed before Refresh) do not pile up either.
  std::erase_if(last_used_, [&](const auto& item) { return !entries_.contains(item.first); });
}

std::vector<collateral::CollateralKey> PlatformCollateral::KnownKeys() {
  std::vector<collateral::CollateralKey> keys = options_.platforms;
  {
    std::lock_guard<std::mutex> lock(map_mu_);
    for (const auto& [name, e] : entries_) keys.push_back(e->key);
  }
  if (!options_.offline_dir.empty()) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(options_.offline_dir, ec)) {
      if (!d.is_directory(ec)) continue;
      std::string n = d.path().filename().string();
      std::string ca = PckCaOfBundle(d.path());
      if (n.size() > 13 && n[12] == '-') {
        ca = n.substr(13);
        n = n.substr(0, 12);
      }
      auto key = collateral::CollateralKey::Make(n, "SGX", ca);
      if (key) keys.push_back(*key);
    }
  }
  std::vector<collateral::CollateralKey> unique;
  for (auto& k : keys) {
    const std::string s = k.ToString();
    if (std::none_of(unique.begin(), unique.end(),
                     [&](const collateral::CollateralKey& u) { return u.ToString() == s; })) {
      unique.push_back(std::move(k));
    }
  }
  return unique;
}

std::vector<std::shared_ptr<const PlatformEntry>> PlatformCollateral::Known(std::int64_t now) {
  std::vector<std::shared_ptr<const PlatformEntry>> out;
  for (const auto& key : KnownKeys()) {
    (void)Lookup(key, now, /*touch=*/false);  // failures are recorded as entries without collateral
    std::lock_guard<std::mutex> lock(map_mu_);
    auto it = entries_.find(key.ToString());
    if (it != entries_.end()) out.push_back(it->second);
  }
  return out;
}

std::vector<std::shared_ptr<const PlatformEntry>> PlatformCollateral::Snapshot() {
  std::lock_guard<std::mutex> lock(map_mu_);
  std::vector<std::shared_ptr<const PlatformEntry>> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(e);
  return out;
}

Result<std::shared_ptr<const PlatformEntry>> PlatformCollateral::AnyUsable(
    std::int64_t now, const std::function<bool(const collateral::CollateralKey&)>& accept) {
  std::string problem;
  for (const auto& e : Known(now)) {
    if (e->key.tee != "SGX" || !accept(e->key)) continue;
    if (e->UsableAt(now, options_.max_age_seconds)) return e;
    if (problem.empty()) problem = e->Problem(now, options_.max_age_seconds);
  }
  if (problem.empty()) {
    return NotFound(
        "no matching platform is known yet (a quote from it, [attestation] platforms "
        "or the offline collateral_dir makes it known)");
  }
  return FailedPrecondition(problem);
}

}  // namespace kmra::server
