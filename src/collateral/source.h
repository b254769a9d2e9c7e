// Where the verifier gets collateral for a platform: offline bundle directories, Intel's PCS or a
// PCCS (libcurl), and a SQLite-backed cache in front of either. See docs/collateral.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "dcap/collateral.h"

namespace kmra::collateral {

// Which collateral a quote needs (dcap::InspectQuote tells a server these for a quote).
struct CollateralKey {
  std::string fmspc;   // 12 hex digits; normalised to upper case by Normalize
  std::string tee;     // "SGX" or "TDX"
  std::string pck_ca;  // "processor" or "platform": whose CRL the PCK certificate needs

  // Checks and normalises the fields; InvalidArgument naming the bad one.
  static Result<CollateralKey> Make(std::string_view fmspc, std::string_view tee,
                                    std::string_view pck_ca);
  // "SGX/00906ED50000/processor", used as cache key and in messages.
  std::string ToString() const;
};

// The earliest nextUpdate (unix seconds) of TCB info, QE identity and both CRLs: the instant the
// set stops being current. DataLoss naming the part that lacks a readable nextUpdate.
Result<int64_t> EarliestNextUpdate(const dcap::Collateral& collateral);

// A source of collateral. Implementations are thread safe.
class CollateralSource {
 public:
  virtual ~CollateralSource() = default;

  // The collateral of one platform kind. NotFound when the source has none for it, Unavailable
  // when the source cannot be reached, DataLoss when what it returned is malformed.
  virtual Result<dcap::Collateral> Get(const CollateralKey& key) = 0;

  // Convenience: Make + Get.
  Result<dcap::Collateral> Get(std::string_view fmspc, std::string_view tee,
                               std::string_view pck_ca);

  // A short description for logs and errors ("offline:/etc/kmra/collateral", "pccs:https://...").
  virtual std::string Describe() const = 0;
};

}  // namespace kmra::collateral
