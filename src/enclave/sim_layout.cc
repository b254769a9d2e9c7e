#include "enclave/sim_layout.h"

#include <nlohmann/json.hpp>

#include "base/hex.h"

namespace kmra::enclave {

namespace {

using Json = nlohmann::ordered_json;

template <std::size_t N>
Status ReadHex(const Json& j, const char* name, std::array<std::uint8_t, N>& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return InvalidArgument(std::string("platform.json: \"") + name + "\" is missing or not a string");
  }
  auto bytes = HexDecode(it->get<std::string>());
  if (!bytes || bytes->size() != N) {
    return InvalidArgument(std::string("platform.json: \"") + name + "\" must be " +
                           std::to_string(2 * N) + " hex digits");
  }
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return OkStatus();
}

Status ReadU16(const Json& j, const char* name, std::uint16_t& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() > 0xffff) {
    return InvalidArgument(std::string("platform.json: \"") + name +
                           "\" is missing or not an integer in 0..65535");
  }
  out = static_cast<std::uint16_t>(it->get<std::uint64_t>());
  return OkStatus();
}

}  // namespace

std::string SimPlatformInfo::ToJson() const {
  Json j;
  j["format"] = kSimPlatformFormat;
  j["fmspc"] = HexEncodeUpper(fmspc);
  j["pce_id"] = HexEncodeUpper(pce_id);
  j["ppid"] = HexEncode(ppid);
  j["qe_id"] = HexEncode(qe_id);
  j["tcb_components"] = HexEncode(tcb_components);
  j["pce_svn"] = pce_svn;
  j["qe_mrenclave"] = HexEncode(qe_mrenclave);
  j["qe_mrsigner"] = HexEncode(qe_mrsigner);
  j["qe_isv_prod_id"] = qe_isv_prod_id;
  j["qe_isv_svn"] = qe_isv_svn;
  return j.dump(2) + "\n";
}

Result<SimPlatformInfo> SimPlatformInfo::FromJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("platform.json is not a JSON object");
  }
  auto format = j.find("format");
  if (format == j.end() || !format->is_string() || format->get<std::string>() != kSimPlatformFormat) {
    return InvalidArgument(std::string("platform.json: \"format\" must be \"") + kSimPlatformFormat +
                           "\"; was this directory made by `kmra pki init`?");
  }
  SimPlatformInfo p;
  KMRA_TRY(ReadHex(j, "fmspc", p.fmspc));
  KMRA_TRY(ReadHex(j, "pce_id", p.pce_id));
  KMRA_TRY(ReadHex(j, "ppid", p.ppid));
  KMRA_TRY(ReadHex(j, "qe_id", p.qe_id));
  KMRA_TRY(ReadHex(j, "tcb_components", p.tcb_components));
  KMRA_TRY(ReadU16(j, "pce_svn", p.pce_svn));
  KMRA_TRY(ReadHex(j, "qe_mrenclave", p.qe_mrenclave));
  KMRA_TRY(ReadHex(j, "qe_mrsigner", p.qe_mrsigner));
  KMRA_TRY(ReadU16(j, "qe_isv_prod_id", p.qe_isv_prod_id));
  KMRA_TRY(ReadU16(j, "qe_isv_svn", p.qe_isv_svn));
  return p;
}

}  // namespace kmra::enclave
