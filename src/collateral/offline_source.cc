#include "collateral/offline_source.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

namespace kmra::collateral {

Result<dcap::Collateral> OfflineSource::Get(const CollateralKey& key) {
  namespace fs = std::filesystem;
  std::string lower = key.fmspc;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const fs::path root(root_);
  std::vector<fs::path> candidates;
  const fs::path base = key.tee == "TDX" ? root / "tdx" : root;
  for (const auto& f : {key.fmspc, lower}) {
    candidates.push_back(base / (f + "-" + key.pck_ca));
    candidates.push_back(base / f);
  }
  std::error_code ec;
  for (const auto& dir : candidates) {
    if (!fs::is_directory(dir, ec)) continue;
    auto c = dcap::LoadCollateralDir(dir.string());
    if (!c) return tl::unexpected(c.error().WithContext("collateral for " + key.ToString()));
    return c;
  }
  return NotFound("no offline collateral for " + key.ToString() + ": none of " +
                  candidates[0].string() + ", " + candidates[1].string() + " exists");
}

}  // namespace kmra::collateral
