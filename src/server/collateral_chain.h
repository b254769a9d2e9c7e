// Builds the key server's collateral chain from [attestation] (docs/collateral.md "In the key
// server"):
//   pccs_url set:       cache( fallback( PCCS/PCS client, offline collateral_dir if set ) ),
//                       the cache in the state store or in the SQLite file collateral_cache;
//   collateral_dir only: the offline bundle directory, re-read every collateral_recheck seconds;
//   neither:            no source (the server starts, /readyz says why it is not ready).
#pragma once

#include <memory>

#include "base/clock.h"
#include "base/result.h"
#include "server/config.h"
#include "server/platform_collateral.h"
#include "store/store.h"

namespace kmra::server {

struct CollateralSetup {
  std::unique_ptr<store::Store> cache_store;  // set when collateral_cache names its own file
  std::unique_ptr<PlatformCollateral> collateral;
};

// `state_store` and `clock` must outlive the result. Errors name the setting that is wrong (an
// unreadable pccs_api_key_file or pccs_ca_file, a collateral_cache that cannot be opened).
// Fetches the known platforms' collateral once so the log tells at start whether it is fresh.
Result<CollateralSetup> BuildCollateral(const ServerConfig& config, store::Store& state_store,
                                        const Clock& clock);

}  // namespace kmra::server
