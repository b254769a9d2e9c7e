#include "dcap/tcb_eval.h"

#include <algorithm>
#include <cstdio>

namespace kmra::dcap {
namespace {

bool Descending(const TcbLevel& a, const TcbLevel& b) {
  if (a.sgx_components != b.sgx_components) return a.sgx_components > b.sgx_components;
  if (a.pce_svn != b.pce_svn) return a.pce_svn > b.pce_svn;
  return a.tdx_components > b.tdx_components;
}

bool SgxMatches(const TcbLevel& level, const PckExtension& pck) {
  for (size_t i = 0; i < 16; ++i) {
    if (pck.tcb_components[i] < level.sgx_components[i]) return false;
  }
  return pck.pce_svn >= level.pce_svn;
}

bool TdxMatches(const TcbLevel& level, const TdReport& td) {
  const size_t first = td.tee_tcb_svn[1] > 0 ? 2 : 0;
  for (size_t i = first; i < 16; ++i) {
    if (td.tee_tcb_svn[i] < level.tdx_components[i]) return false;
  }
  return true;
}

}  // namespace

const TcbLevel* SelectTcbLevel(const TcbInfo& info, const PckExtension& pck, const TdReport* td) {
  auto applies = [&pck, td](const TcbLevel& l) {
    return SgxMatches(l, pck) && (td == nullptr || TdxMatches(l, *td));
  };
  // Intel publishes the levels in QVL's order already: then no copy to sort (a cached verification
  // runs this every time).
  if (std::is_sorted(info.levels.begin(), info.levels.end(), Descending)) {
    auto it = std::find_if(info.levels.begin(), info.levels.end(), applies);
    return it == info.levels.end() ? nullptr : &*it;
  }
  std::vector<const TcbLevel*> order;
  order.reserve(info.levels.size());
  for (const auto& l : info.levels) order.push_back(&l);
  std::stable_sort(order.begin(), order.end(),
                   [](const TcbLevel* a, const TcbLevel* b) { return Descending(*a, *b); });
  auto it =
      std::find_if(order.begin(), order.end(), [&](const TcbLevel* l) { return applies(*l); });
  return it == order.end() ? nullptr : *it;
}

std::optional<EnclaveIdentityLevel> SelectQeLevel(const EnclaveIdentity& identity,
                                                  uint16_t isv_svn) {
  for (const auto& l : identity.levels) {
    if (l.isv_svn <= isv_svn) return l;
  }
  return std::nullopt;
}

const TdxModuleIdentity* SelectTdxModule(const TcbInfo& info, const TdReport& td) {
  if (td.tee_tcb_svn[1] == 0 || info.tdx_module_identities.empty()) {
    return info.tdx_module ? &*info.tdx_module : nullptr;
  }
  char id[8];
  // "TDX_" and 2 hex digits of a byte: cannot truncate.
  (void)std::snprintf(id, sizeof(id), "TDX_%02X", td.tee_tcb_svn[1]);
  for (const auto& m : info.tdx_module_identities) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

std::optional<TdxModuleLevel> SelectTdxModuleLevel(const TdxModuleIdentity& module,
                                                   const TdReport& td) {
  for (const auto& l : module.levels) {
    if (l.isv_svn <= td.tee_tcb_svn[0]) return l;
  }
  return std::nullopt;
}

TcbStatus Converge(TcbStatus tcb, TcbStatus other) {
  if (tcb == TcbStatus::kNotSupported) return tcb;
  switch (other) {
    case TcbStatus::kUpToDate:
      return tcb;
    case TcbStatus::kNotSupported:
    case TcbStatus::kRevoked:
      return other;
    default:
      // QVL maps every other QE / module level status to OUT_OF_DATE (EnclaveReportVerifier.cpp).
      if (tcb == TcbStatus::kUpToDate || tcb == TcbStatus::kSWHardeningNeeded) {
        return TcbStatus::kOutOfDate;
      }
      if (tcb == TcbStatus::kConfigurationNeeded ||
          tcb == TcbStatus::kConfigurationAndSWHardeningNeeded) {
        return TcbStatus::kOutOfDateConfigurationNeeded;
      }
      return tcb;
  }
}

}  // namespace kmra::dcap
