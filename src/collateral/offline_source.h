// Collateral from directories laid out like Intel's offline bundles, one per FMSPC:
//   <root>/<FMSPC>/{tcbInfo.json,qeIdentity.json,tcbSignChain.pem,rootCaCrl.der,pckCrl.der,...}
// (what `kmra pki init` writes as DIR/collateral/<fmspc>/). TDX collateral may live in
// <root>/tdx/<FMSPC>/; a directory <root>/<FMSPC>-<processor|platform>/ wins over <root>/<FMSPC>/
// when both exist, for FMSPCs seen with both PCK CAs. The FMSPC folder name is matched in upper or
// lower case. Files are read on every Get, so replacing a bundle takes effect at once.
#pragma once

#include <string>

#include "collateral/source.h"

namespace kmra::collateral {

class OfflineSource final : public CollateralSource {
 public:
  explicit OfflineSource(std::string root) : root_(std::move(root)) {}

  using CollateralSource::Get;
  // NotFound naming the directories looked at; errors of dcap::LoadCollateralDir otherwise.
  Result<dcap::Collateral> Get(const CollateralKey& key) override;
  std::string Describe() const override { return "offline:" + root_; }

 private:
  std::string root_;
};

}  // namespace kmra::collateral
