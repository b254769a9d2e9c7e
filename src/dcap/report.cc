#include "dcap/report.h"

#include "dcap/internal/bytes.h"

namespace kmra::dcap {

using json = nlohmann::ordered_json;

bool VerificationReport::HasError(std::string_view code) const {
  for (const auto& e : errors) {
    if (e.code == code) return true;
  }
  return false;
}

const CheckOutcome* VerificationReport::FindCheck(std::string_view name) const {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

json VerificationReport::ToJsonValue() const {
  auto time_or_null = [](int64_t t) -> json {
    return t == 0 ? json(nullptr) : json(internal::FormatUtc(t));
  };
  auto string_or_null = [](const std::string& s) -> json {
    return s.empty() ? json(nullptr) : json(s);
  };
  json j;
  j["verified"] = verified;
  j["tcb_status"] = string_or_null(tcb_status);  // null: not evaluated
  j["advisory_ids"] = advisory_ids;
  j["qe_identity_status"] = string_or_null(qe_identity_status);
  if (!tdx_module_status.empty()) j["tdx_module_status"] = tdx_module_status;
  j["tee"] = tee;
  j["fmspc"] = fmspc;
  j["pce_id"] = pce_id;
  j["pck_ca"] = pck_ca;
  j["mrenclave"] = mrenclave;
  j["mrsigner"] = mrsigner;
  j["isv_prod_id"] = isv_prod_id;
  j["isv_svn"] = isv_svn;
  j["debug"] = debug;
  j["attributes"] = attributes;
  j["report_data"] = report_data;
  if (td) {
    json t{{"mr_td", td->mr_td},
           {"mr_seam", td->mr_seam},
           {"mrsigner_seam", td->mrsigner_seam},
           {"td_attributes", td->td_attributes},
           {"xfam", td->xfam},
           {"mr_config_id", td->mr_config_id},
           {"mr_owner", td->mr_owner},
           {"mr_owner_config", td->mr_owner_config},
           {"rtmr0", td->rtmr[0]},
           {"rtmr1", td->rtmr[1]},
           {"rtmr2", td->rtmr[2]},
           {"rtmr3", td->rtmr[3]},
           {"tee_tcb_svn", td->tee_tcb_svn}};
    j["td"] = t;
  }
  j["verified_at"] = internal::FormatUtc(verified_at);
  j["verified_at_unix"] = verified_at;
  j["collateral"] = json{{"not_before", time_or_null(collateral_not_before)},
                         {"not_after", time_or_null(collateral_not_after)},
                         {"expires_first", collateral_expires_first}};
  j["quote_trailing_bytes"] = quote_trailing_bytes;
  json cs = json::array();
  for (const auto& c : checks)
    cs.push_back(json{{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
  j["checks"] = cs;
  json es = json::array();
  for (const auto& e : errors) es.push_back(json{{"code", e.code}, {"message", e.message}});
  j["errors"] = es;
  return j;
}

std::string VerificationReport::ToJson() const {
  return ToJsonValue().dump(2, ' ', false, json::error_handler_t::replace);
}

std::string VerificationReport::ToText() const {
  std::string out;
  out += std::string("verified:           ") + (verified ? "yes" : "NO") + "\n";
  out += "tcb_status:         " + (tcb_status.empty() ? "(not evaluated)" : tcb_status) + "\n";
  std::string ids;
  for (const auto& id : advisory_ids) ids += (ids.empty() ? "" : ", ") + id;
  out += "advisory_ids:       " + (ids.empty() ? "(none)" : ids) + "\n";
  out += "qe_identity_status: " +
         (qe_identity_status.empty() ? "(not evaluated)" : qe_identity_status) + "\n";
  if (!tdx_module_status.empty()) out += "tdx_module_status:  " + tdx_module_status + "\n";
  out += "tee:                " + tee + "\n";
  out += "fmspc:              " + fmspc + "  pce_id: " + pce_id + "  pck_ca: " + pck_ca + "\n";
  if (td) {
    out += "mr_td:              " + td->mr_td + "\n";
    out += "mr_seam:            " + td->mr_seam + "\n";
    for (int i = 0; i < 4; ++i)
      out += "rtmr" + std::to_string(i) + ":              " + td->rtmr[i] + "\n";
  } else {
    out += "mrenclave:          " + mrenclave + "\n";
    out += "mrsigner:           " + mrsigner + "\n";
    out += "isv_prod_id:        " + std::to_string(isv_prod_id) +
           "  isv_svn: " + std::to_string(isv_svn) + "\n";
  }
  out += std::string("debug:              ") +
         (debug ? "YES (debug enclave: memory readable by the host)" : "no") + "\n";
  out += "report_data:        " + report_data + "\n";
  out += "verified_at:        " + internal::FormatUtc(verified_at) + "\n";
  if (collateral_not_after != 0) {
    out += "collateral valid:   " + internal::FormatUtc(collateral_not_before) + " .. " +
           internal::FormatUtc(collateral_not_after) +
           " (first to expire: " + collateral_expires_first + ")\n";
  }
  out += "checks:\n";
  for (const auto& c : checks) {
    out += std::string("  [") + (c.ok ? " ok " : "FAIL") + "] " + std::string(c.name) + ": " +
           c.detail + "\n";
  }
  if (!errors.empty()) {
    out += "errors:\n";
    for (const auto& e : errors) out += "  " + e.code + ": " + e.message + "\n";
  }
  return out;
}

}  // namespace kmra::dcap
