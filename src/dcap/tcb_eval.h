// TCB evaluation (DCAP.md §9-§11): choosing the TCB level of a platform, the QE identity level and
// the TDX module level, and converging their statuses like Intel's QVL.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dcap/pck_extension.h"
#include "dcap/quote.h"
#include "dcap/tcb_info.h"

namespace kmra::dcap {

// The level of `info` that applies to a platform whose PCK certificate carries `pck`: levels
// ordered descending like QVL (SGX component SVNs, then PCESVN, then TDX components); the first
// level whose every SGX component and PCESVN is <= the PCK's, and for TDX (`td` set) whose TDX
// components are <= the TD's TEE_TCB_SVN (components 0 and 1 skipped when TEE_TCB_SVN[1] > 0).
// Null: none; else a level of `info`.
const TcbLevel* SelectTcbLevel(const TcbInfo& info, const PckExtension& pck, const TdReport* td);

// The first QE identity level (document order) whose ISVSVN <= the QE report's ISVSVN.
std::optional<EnclaveIdentityLevel> SelectQeLevel(const EnclaveIdentity& identity,
                                                  uint16_t isv_svn);

// The TDX module identity that applies to a TD report: tdxModuleIdentities["TDX_%02X" of
// TEE_TCB_SVN[1]] when TEE_TCB_SVN[1] > 0 and the list is present, else tdxModule. Null when the
// named identity is absent.
const TdxModuleIdentity* SelectTdxModule(const TcbInfo& info, const TdReport& td);

// The first module level whose ISVSVN <= TEE_TCB_SVN[0]; nullopt when none.
std::optional<TdxModuleLevel> SelectTdxModuleLevel(const TdxModuleIdentity& module,
                                                   const TdReport& td);

// QVL's convergeTcbStatusWithQeTcbStatus: a QE (or TDX module) status that is OutOfDate turns
// UpToDate/SWHardeningNeeded into OutOfDate and the Configuration* statuses into
// OutOfDateConfigurationNeeded; Revoked or not supported wins; otherwise the TCB status stands.
TcbStatus Converge(TcbStatus tcb, TcbStatus other);

}  // namespace kmra::dcap
