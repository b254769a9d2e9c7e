#include "dcap/tcb_info.h"

#include <algorithm>
#include <limits>
#include <set>

#include "dcap/internal/bytes.h"
#include "dcap/internal/json.h"

namespace kmra::dcap {
namespace {

using internal::Fields;
using internal::ToArray;
namespace dom = simdjson::dom;

constexpr std::string_view kStatusNames[] = {"UpToDate",
                                             "SWHardeningNeeded",
                                             "ConfigurationNeeded",
                                             "ConfigurationAndSWHardeningNeeded",
                                             "OutOfDate",
                                             "OutOfDateConfigurationNeeded",
                                             "Revoked",
                                             "TCBLevelNotSupported"};

Result<TcbStatus> Status(const Fields& f) {
  KMRA_ASSIGN_OR_RETURN(std::string_view s, f.String("tcbStatus"));
  auto st = ParseTcbStatus(s);
  if (!st || *st == TcbStatus::kNotSupported) {
    return f.Bad("tcbStatus", "has the unknown value \"" + std::string(s) + "\"");
  }
  return *st;
}

// Calls each(object, context) for every element of the array `key` of `f`, the context naming the
// element ("tcbInfo.tcbLevels[2]"); an element that is not an object is an error naming it.
template <class Each>
::kmra::Status ForEachObject(const Fields& f, std::string_view key, const Each& each) {
  KMRA_ASSIGN_OR_RETURN(dom::array elements, f.Array(key));
  const std::string prefix = f.context() + "." + std::string(key) + "[";
  size_t i = 0;
  for (dom::element e : elements) {
    dom::object o;
    const std::string ctx = prefix + std::to_string(i++) + "]";
    if (e.get_object().get(o)) return InvalidArgument(ctx + " is not an object");
    KMRA_TRY(each(o, ctx));
  }
  return OkStatus();
}

// The tcbLevels of a TDX module identity or of an enclave identity (QE, TD_QE, QVE): each
// {tcb: {isvsvn}, tcbDate, tcbStatus, advisoryIDs}, isvsvn in the range of Level::isv_svn.
template <class Level>
Result<std::vector<Level>> IsvLevels(const Fields& f) {
  using Svn = decltype(Level::isv_svn);
  std::vector<Level> out;
  KMRA_TRY(
      ForEachObject(f, "tcbLevels", [&](dom::object lo, const std::string& lctx) -> ::kmra::Status {
        Fields lf(lo, lctx);
        KMRA_ASSIGN_OR_RETURN(dom::object tcb_obj, lf.Object("tcb"));
        Fields tcb(tcb_obj, lctx + ".tcb");
        Level level;
        KMRA_ASSIGN_OR_RETURN(int64_t svn, tcb.Int("isvsvn", 0, std::numeric_limits<Svn>::max()));
        level.isv_svn = static_cast<Svn>(svn);
        KMRA_ASSIGN_OR_RETURN(level.tcb_date, lf.Date("tcbDate"));
        KMRA_ASSIGN_OR_RETURN(level.status, Status(lf));
        KMRA_ASSIGN_OR_RETURN(level.advisory_ids, lf.StringList("advisoryIDs"));
        out.push_back(std::move(level));
        return OkStatus();
      }));
  return out;
}

// The hex string `key` of exactly N bytes, into `out`.
template <size_t N>
::kmra::Status HexInto(const Fields& f, std::string_view key, std::array<uint8_t, N>* out) {
  KMRA_ASSIGN_OR_RETURN(auto bytes, f.HexBytes(key, N));
  *out = ToArray<N>(bytes);
  return OkStatus();
}

Result<std::array<uint8_t, 16>> Components(const Fields& tcb, std::string_view key) {
  KMRA_ASSIGN_OR_RETURN(dom::array arr, tcb.Array(key));
  if (arr.size() != 16) return tcb.Bad(key, "must hold 16 components");
  std::array<uint8_t, 16> out{};
  size_t i = 0;
  for (dom::element e : arr) {
    dom::object o;
    if (e.get_object().get(o)) return tcb.Bad(key, "must hold objects");
    Fields c(o, tcb.context() + "." + std::string(key) + "[" + std::to_string(i) + "]");
    KMRA_ASSIGN_OR_RETURN(int64_t svn, c.Int("svn", 0, 255));
    out[i++] = static_cast<uint8_t>(svn);
  }
  return out;
}

Result<TcbLevel> Level(dom::object o, const TcbInfo& info, const std::string& ctx) {
  Fields f(o, ctx);
  TcbLevel level;
  KMRA_ASSIGN_OR_RETURN(dom::object tcb_obj, f.Object("tcb"));
  Fields tcb(tcb_obj, ctx + ".tcb");
  if (info.version == 2) {
    for (int i = 0; i < 16; ++i) {
      char key[24];
      (void)std::snprintf(key, sizeof(key), "sgxtcbcomp%02dsvn", i + 1);  // 15 characters
      KMRA_ASSIGN_OR_RETURN(int64_t svn, tcb.Int(key, 0, 255));
      level.sgx_components[i] = static_cast<uint8_t>(svn);
    }
  } else {
    KMRA_ASSIGN_OR_RETURN(level.sgx_components, Components(tcb, "sgxtcbcomponents"));
    if (info.id == "TDX") {
      KMRA_ASSIGN_OR_RETURN(level.tdx_components, Components(tcb, "tdxtcbcomponents"));
    }
  }
  KMRA_ASSIGN_OR_RETURN(int64_t pcesvn, tcb.Int("pcesvn", 0, 65535));
  level.pce_svn = static_cast<uint16_t>(pcesvn);
  KMRA_ASSIGN_OR_RETURN(level.tcb_date, f.Date("tcbDate"));
  KMRA_ASSIGN_OR_RETURN(level.status, Status(f));
  KMRA_ASSIGN_OR_RETURN(level.advisory_ids, f.StringList("advisoryIDs"));
  return level;
}

Result<TdxModuleIdentity> Module(dom::object o, const std::string& ctx, bool with_levels) {
  Fields f(o, ctx);
  TdxModuleIdentity m;
  if (with_levels) {
    KMRA_ASSIGN_OR_RETURN(std::string_view id, f.String("id"));
    m.id = id;
  }
  KMRA_TRY(HexInto(f, "mrsigner", &m.mrsigner));
  KMRA_TRY(HexInto(f, "attributes", &m.attributes));
  KMRA_TRY(HexInto(f, "attributesMask", &m.attributes_mask));
  if (!with_levels) return m;
  KMRA_ASSIGN_OR_RETURN(m.levels, IsvLevels<TdxModuleLevel>(f));
  return m;
}

// A signed document (`member` and the signature of `file`): its exact body and signature, and the
// value `read(const Fields&, T*) -> Status` makes of the body's fields.
template <class T, class Read>
Result<Signed<T>> ParseSigned(std::string_view json, const char* member, const char* file,
                              const Read& read) {
  KMRA_ASSIGN_OR_RETURN(auto split, internal::SplitSignedJson(json, member, file));
  Signed<T> out;
  out.body = std::move(split.body);
  out.signature = split.signature;
  dom::parser parser;
  dom::element doc;
  dom::object obj;
  if (parser.parse(out.body).get(doc) || doc.get_object().get(obj)) {
    return InvalidArgument(std::string(member) + " is not a JSON object");
  }
  KMRA_TRY(read(Fields(obj, member), &out.value));
  return out;
}

}  // namespace

std::string_view TcbStatusName(TcbStatus status) {
  return kStatusNames[static_cast<size_t>(status)];
}

std::optional<TcbStatus> ParseTcbStatus(std::string_view name) {
  for (size_t i = 0; i < std::size(kStatusNames); ++i) {
    if (kStatusNames[i] == name) return static_cast<TcbStatus>(i);
  }
  return std::nullopt;
}

namespace {

// The fields of tcbInfo.json's body.
::kmra::Status ReadTcbInfo(const Fields& f, TcbInfo* out) {
  TcbInfo& info = *out;
  KMRA_ASSIGN_OR_RETURN(int64_t version, f.Int("version", 0, 1000));
  if (version != 2 && version != 3) {
    return f.Bad("version", "is " + std::to_string(version) + "; versions 2 and 3 are supported");
  }
  info.version = static_cast<int>(version);
  if (info.version == 3) {
    KMRA_ASSIGN_OR_RETURN(std::string_view id, f.String("id"));
    if (id != "SGX" && id != "TDX") return f.Bad("id", "must be \"SGX\" or \"TDX\"");
    info.id = id;
  } else {
    info.id = "SGX";
  }
  KMRA_ASSIGN_OR_RETURN(info.issue_date, f.Date("issueDate"));
  KMRA_ASSIGN_OR_RETURN(info.next_update, f.Date("nextUpdate"));
  KMRA_TRY(HexInto(f, "fmspc", &info.fmspc));
  KMRA_TRY(HexInto(f, "pceId", &info.pce_id));
  KMRA_ASSIGN_OR_RETURN(int64_t tcb_type, f.Int("tcbType", 0, 0));
  info.tcb_type = static_cast<int>(tcb_type);
  KMRA_ASSIGN_OR_RETURN(info.tcb_evaluation_data_number,
                        f.Int("tcbEvaluationDataNumber", 0, INT32_MAX));
  if (info.id == "TDX") {
    KMRA_ASSIGN_OR_RETURN(dom::object m, f.Object("tdxModule"));
    KMRA_ASSIGN_OR_RETURN(info.tdx_module, Module(m, "tcbInfo.tdxModule", false));
    if (f.Has("tdxModuleIdentities")) {
      KMRA_TRY(ForEachObject(f, "tdxModuleIdentities",
                             [&](dom::object mo, const std::string& ctx) -> ::kmra::Status {
                               KMRA_ASSIGN_OR_RETURN(auto mod, Module(mo, ctx, true));
                               info.tdx_module_identities.push_back(std::move(mod));
                               return OkStatus();
                             }));
    }
  }
  std::set<std::vector<uint8_t>> seen;
  KMRA_TRY(
      ForEachObject(f, "tcbLevels", [&](dom::object lo, const std::string& ctx) -> ::kmra::Status {
        KMRA_ASSIGN_OR_RETURN(TcbLevel level, Level(lo, info, ctx));
        std::vector<uint8_t> key(level.sgx_components.begin(), level.sgx_components.end());
        key.push_back(static_cast<uint8_t>(level.pce_svn >> 8));
        key.push_back(static_cast<uint8_t>(level.pce_svn));
        key.insert(key.end(), level.tdx_components.begin(), level.tdx_components.end());
        if (!seen.insert(key).second) {
          return InvalidArgument(ctx + " repeats the TCB of an earlier level");
        }
        info.levels.push_back(std::move(level));
        return OkStatus();
      }));
  if (info.levels.empty()) return f.Bad("tcbLevels", "is empty");
  return OkStatus();
}

// The fields of an Enclave Identity's body.
::kmra::Status ReadEnclaveIdentity(const Fields& f, EnclaveIdentity* out) {
  EnclaveIdentity& id = *out;
  KMRA_ASSIGN_OR_RETURN(std::string_view name, f.String("id"));
  if (name != "QE" && name != "TD_QE" && name != "QVE") {
    return f.Bad("id", "must be \"QE\", \"TD_QE\" or \"QVE\"");
  }
  id.id = name;
  KMRA_ASSIGN_OR_RETURN(int64_t version, f.Int("version", 0, 1000));
  if (version != 2) return f.Bad("version", "is " + std::to_string(version) + "; 2 is supported");
  id.version = 2;
  KMRA_ASSIGN_OR_RETURN(id.issue_date, f.Date("issueDate"));
  KMRA_ASSIGN_OR_RETURN(id.next_update, f.Date("nextUpdate"));
  KMRA_ASSIGN_OR_RETURN(id.tcb_evaluation_data_number,
                        f.Int("tcbEvaluationDataNumber", 0, INT32_MAX));
  KMRA_TRY(HexInto(f, "miscselect", &id.miscselect));
  KMRA_TRY(HexInto(f, "miscselectMask", &id.miscselect_mask));
  KMRA_TRY(HexInto(f, "attributes", &id.attributes));
  KMRA_TRY(HexInto(f, "attributesMask", &id.attributes_mask));
  KMRA_TRY(HexInto(f, "mrsigner", &id.mrsigner));
  KMRA_ASSIGN_OR_RETURN(int64_t prod, f.Int("isvprodid", 0, 65535));
  id.isv_prod_id = static_cast<uint16_t>(prod);
  KMRA_ASSIGN_OR_RETURN(id.levels, IsvLevels<EnclaveIdentityLevel>(f));
  if (id.levels.empty()) return f.Bad("tcbLevels", "is empty");
  return OkStatus();
}

}  // namespace

Result<Signed<TcbInfo>> ParseTcbInfo(std::string_view json) {
  return ParseSigned<TcbInfo>(json, "tcbInfo", "tcbInfo.json", ReadTcbInfo);
}

Result<Signed<EnclaveIdentity>> ParseEnclaveIdentity(std::string_view json) {
  return ParseSigned<EnclaveIdentity>(json, "enclaveIdentity", "qeIdentity.json",
                                      ReadEnclaveIdentity);
}

}  // namespace kmra::dcap
