// Collateral <-> bytes for the cache table, and the earliest nextUpdate of a collateral set.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "dcap/collateral.h"

namespace kmra::collateral::internal {

// JSON with every field byte-exact (CRLs base64), format version 1.
std::vector<std::uint8_t> EncodeCollateral(const dcap::Collateral& c);
// DataLoss when the bytes are not what EncodeCollateral writes.
Result<dcap::Collateral> DecodeCollateral(const std::vector<std::uint8_t>& bytes);

// min(tcbInfo.nextUpdate, enclaveIdentity.nextUpdate, nextUpdate of both CRLs), unix seconds.
// DataLoss naming the part that lacks a readable nextUpdate.
Result<int64_t> EarliestNextUpdate(const dcap::Collateral& c);

}  // namespace kmra::collateral::internal
