// Tries several collateral sources in order (e.g. a PCCS, then an offline bundle directory).
#pragma once

#include <memory>
#include <vector>

#include "collateral/source.h"

namespace kmra::collateral {

class FallbackSource final : public CollateralSource {
 public:
  explicit FallbackSource(std::vector<std::unique_ptr<CollateralSource>> sources)
      : sources_(std::move(sources)) {}

  using CollateralSource::Get;
  // The first source's success; otherwise an error listing every source's reason, with the code
  // of the first failure.
  Result<dcap::Collateral> Get(const CollateralKey& key) override;
  std::string Describe() const override;

 private:
  std::vector<std::unique_ptr<CollateralSource>> sources_;
};

}  // namespace kmra::collateral
