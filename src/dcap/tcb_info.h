// Intel's signed collateral models: TCB Info (v2 and v3, SGX and TDX) and Enclave Identity v2 (QE,
// TD_QE, QVE), parsed from the JSON the PCS serves. Parsing checks structure and types only; the
// signature over `body` is checked by the verifier.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kmra::dcap {

// Intel's TCB status values, plus kNotSupported ("TCBLevelNotSupported") when no level matches.
enum class TcbStatus {
  kUpToDate,
  kSWHardeningNeeded,
  kConfigurationNeeded,
  kConfigurationAndSWHardeningNeeded,
  kOutOfDate,
  kOutOfDateConfigurationNeeded,
  kRevoked,
  kNotSupported,
};

// Intel's spelling ("UpToDate", …, "TCBLevelNotSupported").
std::string_view TcbStatusName(TcbStatus status);
// Inverse of TcbStatusName; nullopt for an unknown string.
std::optional<TcbStatus> ParseTcbStatus(std::string_view name);

struct TcbLevel {
  std::array<uint8_t, 16> sgx_components{};
  uint16_t pce_svn = 0;
  std::array<uint8_t, 16> tdx_components{};  // TDX TCB info only
  int64_t tcb_date = 0;
  TcbStatus status = TcbStatus::kNotSupported;
  std::vector<std::string> advisory_ids;
};

// A level of an identity reached at an ISV SVN: of a TDX module (8-bit isvsvn) or of an enclave
// identity such as the QE's (16-bit isvsvn). One type for both, as one parser reads both.
template <class Svn>
struct IsvLevel {
  Svn isv_svn = 0;
  int64_t tcb_date = 0;
  TcbStatus status = TcbStatus::kNotSupported;
  std::vector<std::string> advisory_ids;
};
using TdxModuleLevel = IsvLevel<uint8_t>;
using EnclaveIdentityLevel = IsvLevel<uint16_t>;

// tdxModule (id empty, no levels) or one entry of tdxModuleIdentities ("TDX_01", …).
struct TdxModuleIdentity {
  std::string id;
  std::array<uint8_t, 48> mrsigner{};
  std::array<uint8_t, 8> attributes{};
  std::array<uint8_t, 8> attributes_mask{};
  std::vector<TdxModuleLevel> levels;
};

struct TcbInfo {
  int version = 0;  // 2 or 3
  std::string id;   // "SGX" or "TDX" (v2: "SGX")
  int64_t issue_date = 0;
  int64_t next_update = 0;
  std::array<uint8_t, 6> fmspc{};
  std::array<uint8_t, 2> pce_id{};
  int tcb_type = 0;
  int64_t tcb_evaluation_data_number = 0;
  std::vector<TcbLevel> levels;  // in document order
  std::optional<TdxModuleIdentity> tdx_module;
  std::vector<TdxModuleIdentity> tdx_module_identities;
};

struct EnclaveIdentity {
  std::string id;  // "QE", "TD_QE" or "QVE"
  int version = 0;
  int64_t issue_date = 0;
  int64_t next_update = 0;
  int64_t tcb_evaluation_data_number = 0;
  std::array<uint8_t, 4> miscselect{};  // report byte order
  std::array<uint8_t, 4> miscselect_mask{};
  std::array<uint8_t, 16> attributes{};
  std::array<uint8_t, 16> attributes_mask{};
  std::array<uint8_t, 32> mrsigner{};
  uint16_t isv_prod_id = 0;
  std::vector<EnclaveIdentityLevel> levels;  // in document order
};

// A parsed document with the exact signed bytes and the signature.
template <class T>
struct Signed {
  T value;
  std::string body;
  std::array<uint8_t, 64> signature{};
};

// Parses tcbInfo.json. InvalidArgument naming the field on any structural problem (unknown version,
// missing field, wrong hex size, unknown status, duplicated level, TDX data in an SGX document).
Result<Signed<TcbInfo>> ParseTcbInfo(std::string_view json);

// Parses qeIdentity.json (Enclave Identity v2).
Result<Signed<EnclaveIdentity>> ParseEnclaveIdentity(std::string_view json);

}  // namespace kmra::dcap
