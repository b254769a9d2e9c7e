#include "collateral/source.h"

#include <cctype>

#include "collateral/internal/codec.h"

namespace kmra::collateral {

Result<CollateralKey> CollateralKey::Make(std::string_view fmspc, std::string_view tee,
                                          std::string_view pck_ca) {
  CollateralKey k;
  if (fmspc.size() != 12) {
    return InvalidArgument("FMSPC \"" + std::string(fmspc) + "\" must be 12 hex digits");
  }
  for (char c : fmspc) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return InvalidArgument("FMSPC \"" + std::string(fmspc) + "\" must be 12 hex digits");
    }
    k.fmspc.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  for (char c : tee) k.tee.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (k.tee != "SGX" && k.tee != "TDX") {
    return InvalidArgument("TEE type \"" + std::string(tee) + "\" must be SGX or TDX");
  }
  for (char c : pck_ca) {
    k.pck_ca.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (k.pck_ca != "processor" && k.pck_ca != "platform") {
    return InvalidArgument("PCK CA \"" + std::string(pck_ca) +
                           "\" must be processor or platform");
  }
  return k;
}

Result<int64_t> EarliestNextUpdate(const dcap::Collateral& collateral) {
  return internal::EarliestNextUpdate(collateral);
}

std::string CollateralKey::ToString() const { return tee + "/" + fmspc + "/" + pck_ca; }

Result<dcap::Collateral> CollateralSource::Get(std::string_view fmspc, std::string_view tee,
                                               std::string_view pck_ca) {
  KMRA_ASSIGN_OR_RETURN(auto key, CollateralKey::Make(fmspc, tee, pck_ca));
  return Get(key);
}

}  // namespace kmra::collateral
