#include "server/collateral_chain.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "collateral/cache.h"
#include "collateral/fallback_source.h"
#include "collateral/offline_source.h"
#include "collateral/pcs_client.h"

namespace kmra::server {
namespace {

namespace fs = std::filesystem;

// Writes which member of a fallback delivered into a string the PlatformCollateral reads after the
// lookup (both happen under its refresh lock), so /readyz can say "from pccs:..." or "offline:...".
class RecordingSource final : public collateral::CollateralSource {
 public:
  RecordingSource(std::unique_ptr<collateral::CollateralSource> inner,
                  std::shared_ptr<std::string> last)
      : inner_(std::move(inner)), last_(std::move(last)) {}
  using CollateralSource::Get;
  Result<dcap::Collateral> Get(const collateral::CollateralKey& key) override {
    auto c = inner_->Get(key);
    if (c) *last_ = inner_->Describe();
    return c;
  }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<collateral::CollateralSource> inner_;
  std::shared_ptr<std::string> last_;
};

// A directory that is one bundle (tcbInfo.json at its top), as collateral_dir allowed before
// per-FMSPC directories: it serves its platform.
class FlatBundleSource final : public collateral::CollateralSource {
 public:
  explicit FlatBundleSource(std::string dir) : dir_(std::move(dir)) {}
  using CollateralSource::Get;
  Result<dcap::Collateral> Get(const collateral::CollateralKey&) override {
    return dcap::LoadCollateralDir(dir_);
  }
  std::string Describe() const override { return "offline:" + dir_; }

 private:
  std::string dir_;
};

// The FMSPC named inside a flat bundle's tcbInfo.json, or "" when unreadable.
std::string FlatBundleFmspc(const std::string& dir) {
  auto text = ReadFileText(fs::path(dir) / "tcbInfo.json", 1 << 20);
  if (!text) return {};
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("tcbInfo") || !j["tcbInfo"].is_object() ||
      !j["tcbInfo"].contains("fmspc") || !j["tcbInfo"]["fmspc"].is_string()) {
    return {};
  }
  return j["tcbInfo"]["fmspc"].get<std::string>();
}

Result<std::string> LoadApiKey(const ServerConfig& config) {
  if (!config.pccs_api_key_file.empty()) {
    auto key = ReadFileText(config.pccs_api_key_file, 4096);
    if (!key) return tl::unexpected(key.error().WithContext("[attestation] pccs_api_key_file"));
    std::string k = *key;
    while (!k.empty() && (k.back() == '\n' || k.back() == '\r' || k.back() == ' ')) k.pop_back();
    if (k.empty()) {
      return InvalidArgument("[attestation] pccs_api_key_file " + config.pccs_api_key_file +
                             " is empty");
    }
    return k;
  }
  if (!config.pccs_api_key_env.empty()) {
    if (const char* env = std::getenv(config.pccs_api_key_env.c_str()); env && *env) {
      return std::string(env);
    }
  }
  return config.pccs_api_key;  // "" (no key: a PCCS needs none) unless allowed in clear
}

}  // namespace

Result<CollateralSetup> BuildCollateral(const ServerConfig& config, store::Store& state_store,
                                        const Clock& clock) {
  CollateralSetup setup;
  PlatformCollateralOptions options;
  options.recheck_seconds = config.collateral_recheck;
  options.retry_seconds = std::min<std::int64_t>(10, config.collateral_recheck);
  options.max_age_seconds = config.collateral_max_age;
  options.upstream_network = !config.pccs_urls.empty();
  for (const auto& p : config.platforms) {
    // config.cc normalised these to TEE/FMSPC/CA.
    const auto a = p.find('/'), b = p.rfind('/');
    auto key = collateral::CollateralKey::Make(p.substr(a + 1, b - a - 1), p.substr(0, a),
                                               p.substr(b + 1));
    if (!key) return tl::unexpected(key.error().WithContext("[attestation] platforms"));
    options.platforms.push_back(*key);
  }

  auto last_origin = std::make_shared<std::string>();
  std::unique_ptr<collateral::CollateralSource> offline;
  if (!config.collateral_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(config.collateral_dir, ec)) {
      return InvalidArgument("[attestation] collateral_dir " + config.collateral_dir +
                             " is not a directory");
    }
    if (fs::exists(fs::path(config.collateral_dir) / "tcbInfo.json", ec)) {
      offline = std::make_unique<FlatBundleSource>(config.collateral_dir);
      auto key = collateral::CollateralKey::Make(FlatBundleFmspc(config.collateral_dir), "SGX",
                                                 "processor");
      if (key) options.platforms.push_back(*key);
    } else {
      offline = std::make_unique<collateral::OfflineSource>(config.collateral_dir);
      options.offline_dir = config.collateral_dir;
    }
  }

  std::unique_ptr<collateral::CachedSource> cache;
  std::string description;
  if (!config.pccs_urls.empty()) {
    collateral::PcsOptions pcs;
    pcs.base_urls = config.pccs_urls;
    pcs.api_version = config.pccs_api_version;
    pcs.timeout_ms = config.pccs_timeout_ms;
    pcs.connect_timeout_ms = std::min<long>(3000, config.pccs_timeout_ms);
    pcs.verify_tls = config.pccs_verify_tls;
    if (!config.pccs_ca_file.empty()) {
      auto ca = ReadFileText(config.pccs_ca_file, 1 << 20);
      if (!ca) return tl::unexpected(ca.error().WithContext("[attestation] pccs_ca_file"));
      pcs.ca_file = config.pccs_ca_file;
    }
    KMRA_ASSIGN_OR_RETURN(pcs.api_key, LoadApiKey(config));
    auto client = collateral::PcsClient::Create(std::move(pcs));
    if (!client) return tl::unexpected(client.error().WithContext("[attestation] pccs_url"));
    if (!config.pccs_verify_tls) {
      spdlog::warn(
          "[attestation] pccs_verify_tls = false: the PCCS's TLS certificate is NOT "
          "checked (lab use only; collateral signatures are still verified)");
    }
    std::vector<std::unique_ptr<collateral::CollateralSource>> members;
    members.push_back(std::make_unique<RecordingSource>(std::move(*client), last_origin));
    if (offline) {
      members.push_back(std::make_unique<RecordingSource>(std::move(offline), last_origin));
    }
    auto upstream = std::make_unique<collateral::FallbackSource>(std::move(members));
    store::Store* cache_store = &state_store;
    if (!config.collateral_cache.empty()) {
      auto opened = store::OpenSqliteStore(config.collateral_cache);
      if (!opened) {
        return tl::unexpected(opened.error().WithContext("[attestation] collateral_cache " +
                                                         config.collateral_cache));
      }
      setup.cache_store = std::move(*opened);
      cache_store = setup.cache_store.get();
    }
    collateral::CacheOptions cache_options;
    cache_options.refresh_ahead_seconds = config.collateral_refresh_ahead;
    cache_options.max_age_seconds = config.collateral_max_age;
    // Replicas sharing a PostgreSQL state store take turns: one refreshes a platform, the others
    // read what it stored (docs/store.md "In the key server").
    if (config.collateral_cache.empty() && !config.store_url.empty()) {
      cache_options.lease_holder = config.replica;
    }
    cache = std::make_unique<collateral::CachedSource>(*cache_store, std::move(upstream), clock,
                                                       cache_options);
    description =
        cache->Describe() + (config.collateral_cache.empty() ? " in the state store"
                                                             : " in " + config.collateral_cache);
  } else if (offline) {
    description = offline->Describe();
  } else {
    description = "none";
    spdlog::warn(
        "no collateral source is configured ([attestation] collateral_dir or pccs_url): "
        "no quote can be verified and /readyz reports not ready");
  }
  setup.collateral = std::make_unique<PlatformCollateral>(
      std::move(options), std::move(cache), std::move(offline), last_origin, description);
  spdlog::info("collateral: {}", description);
  for (const auto& e : setup.collateral->Known(clock.NowUnix())) (void)e;  // logs each platform
  return setup;
}

}  // namespace kmra::server
