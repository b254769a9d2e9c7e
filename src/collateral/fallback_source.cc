#include "collateral/fallback_source.h"

namespace kmra::collateral {

Result<dcap::Collateral> FallbackSource::Get(const CollateralKey& key) {
  if (sources_.empty()) return FailedPrecondition("no collateral source is configured");
  std::string errors;
  Code first = Code::kUnavailable;
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    auto c = sources_[i]->Get(key);
    if (c) return c;
    if (i == 0) first = c.error().code();
    errors += (errors.empty() ? "" : "; ") + sources_[i]->Describe() + ": " + c.error().message();
  }
  return MakeError(first, errors);
}

std::string FallbackSource::Describe() const {
  std::string s;
  for (const auto& src : sources_) s += (s.empty() ? "" : " then ") + src->Describe();
  return s;
}

}  // namespace kmra::collateral
