#include "server/policy.h"

#include <algorithm>
#include <set>

#include "base/hex.h"
#include "server/json.h"

namespace kmra::server {
namespace {

Result<std::vector<std::string>> StringList(const Json& value, const std::string& field) {
  if (!value.is_array()) return InvalidArgument("policy field '" + field + "' must be a list");
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string()) {
      return InvalidArgument("policy field '" + field + "' must be a list of strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::vector<std::array<std::uint8_t, 32>>> MeasurementList(const Json& value,
                                                                  const std::string& field) {
  KMRA_ASSIGN_OR_RETURN(auto strings, StringList(value, field));
  std::vector<std::array<std::uint8_t, 32>> out;
  for (const auto& s : strings) {
    auto bytes = HexDecode(s);
    if (!bytes || bytes->size() != 32) {
      // NOLINTNEXTLINE(performance-inefficient-string-concatenation): runs once (returns)
      return InvalidArgument("policy field '" + field + "': '" + s +
                             "' is not a 32-byte value in hex (64 hex digits)");
    }
    std::array<std::uint8_t, 32> m{};
    std::copy(bytes->begin(), bytes->end(), m.begin());
    out.push_back(m);
  }
  return out;
}

Result<std::int64_t> NonNegative(const Json& value, const std::string& field, std::int64_t max) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
      value.get<std::int64_t>() > max) {
    return InvalidArgument("policy field '" + field + "' must be an integer from 0 to " +
                           std::to_string(max));
  }
  return value.get<std::int64_t>();
}

std::string Hex(std::span<const std::uint8_t> b) { return HexEncode(b); }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "(none)" : out;
}

}  // namespace

std::string Policy::ToJson() const {
  Json j;
  j["mrenclave"] = Json::array();
  for (const auto& m : mrenclave) j["mrenclave"].push_back(Hex(m));
  j["mrsigner"] = Json::array();
  for (const auto& m : mrsigner) j["mrsigner"].push_back(Hex(m));
  j["isv_prod_id"] = isv_prod_id ? Json(*isv_prod_id) : Json(nullptr);
  j["min_isv_svn"] = min_isv_svn;
  j["tcb_statuses"] = tcb_statuses;
  j["advisory_ids"] = advisory_ids;
  j["allow_debug"] = allow_debug;
  j["max_collateral_age_seconds"] = max_collateral_age_seconds;
  j["clients"] = clients;
  j["allow_any_enclave"] = allow_any_enclave;
  j["kmra_certificate_chain"] = kmra_certificate_chain;
  return DumpJson(j);
}

std::string PolicyHowTo() {
  return "name the enclave: {\"mrenclave\":[\"<64 hex>\"]} and/or {\"mrsigner\":[\"<64 "
         "hex>\"]}, or say {\"allow_any_enclave\":true} to release to any enclave that passes the "
         "other checks (logged at warn on every release)";
}

Result<Policy> ParsePolicy(std::string_view json_text, bool allow_unnamed_enclave) {
  auto parsed = ParseJsonObject(json_text, 64 << 10, 8);
  if (!parsed) return tl::unexpected(parsed.error().WithContext("policy"));
  Policy p;
  for (const auto& [field, value] : parsed->items()) {
    if (field == "mrenclave") {
      KMRA_ASSIGN_OR_RETURN(p.mrenclave, MeasurementList(value, field));
    } else if (field == "mrsigner") {
      KMRA_ASSIGN_OR_RETURN(p.mrsigner, MeasurementList(value, field));
    } else if (field == "isv_prod_id") {
      if (!value.is_null()) {
        KMRA_ASSIGN_OR_RETURN(auto v, NonNegative(value, field, 0xFFFF));
        p.isv_prod_id = static_cast<std::uint16_t>(v);
      }
    } else if (field == "min_isv_svn") {
      KMRA_ASSIGN_OR_RETURN(auto v, NonNegative(value, field, 0xFFFF));
      p.min_isv_svn = static_cast<std::uint16_t>(v);
    } else if (field == "tcb_statuses") {
      KMRA_ASSIGN_OR_RETURN(p.tcb_statuses, StringList(value, field));
    } else if (field == "advisory_ids") {
      KMRA_ASSIGN_OR_RETURN(p.advisory_ids, StringList(value, field));
    } else if (field == "allow_debug") {
      if (!value.is_boolean())
        return InvalidArgument("policy field 'allow_debug' must be true/false");
      p.allow_debug = value.get<bool>();
    } else if (field == "max_collateral_age_seconds") {
      KMRA_ASSIGN_OR_RETURN(p.max_collateral_age_seconds,
                            NonNegative(value, field, std::int64_t{1} << 40));
    } else if (field == "clients") {
      KMRA_ASSIGN_OR_RETURN(p.clients, StringList(value, field));
    } else if (field == "allow_any_enclave" || field == "kmra_certificate_chain") {
      if (!value.is_boolean()) {
        return InvalidArgument("policy field '" + field + "' must be true/false");
      }
      (field == "allow_any_enclave" ? p.allow_any_enclave : p.kmra_certificate_chain) =
          value.get<bool>();
    } else {
      return InvalidArgument(
          "policy field '" + field +
          "' is unknown; known fields: mrenclave, mrsigner, isv_prod_id, min_isv_svn, "
          "tcb_statuses, advisory_ids, allow_debug, max_collateral_age_seconds, clients, "
          "allow_any_enclave, kmra_certificate_chain");
    }
  }
  if (p.allow_any_enclave && (!p.mrenclave.empty() || !p.mrsigner.empty())) {
    return InvalidArgument(
        "policy sets allow_any_enclave and also names mrenclave/mrsigner; use one or the other");
  }
  if (!allow_unnamed_enclave && !p.NamesEnclave()) {
    return InvalidArgument("the policy names no enclave, so it would never release the key; " +
                           PolicyHowTo());
  }
  return p;
}

std::optional<PolicyRefusal> CheckClient(const Policy& policy,
                                         const std::vector<std::string>& default_clients,
                                         const std::string& client_id) {
  const auto& allowed = policy.clients.empty() ? default_clients : policy.clients;
  if (std::find(allowed.begin(), allowed.end(), client_id) != allowed.end()) return std::nullopt;
  return PolicyRefusal{"policy.client", "client '" + client_id +
                                            "' (OU of its certificate) is not allowed for this "
                                            "key; allowed: " +
                                            Join(allowed)};
}

std::optional<PolicyRefusal> CheckAttestation(const Policy& policy, const AttestationResult& facts,
                                              std::int64_t now_unix) {
  auto contains = [](const auto& list, const auto& v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  if (!policy.mrenclave.empty() && !contains(policy.mrenclave, facts.mrenclave)) {
    return PolicyRefusal{"policy.mrenclave",
                         "MRENCLAVE " + Hex(facts.mrenclave) + " is not in the key's allowed list"};
  }
  if (!policy.mrsigner.empty() && !contains(policy.mrsigner, facts.mrsigner)) {
    return PolicyRefusal{"policy.mrsigner",
                         "MRSIGNER " + Hex(facts.mrsigner) + " is not in the key's allowed list"};
  }
  if (policy.isv_prod_id && *policy.isv_prod_id != facts.isv_prod_id) {
    return PolicyRefusal{"policy.isv_prod_id", "ISVPRODID is " + std::to_string(facts.isv_prod_id) +
                                                   ", the key requires " +
                                                   std::to_string(*policy.isv_prod_id)};
  }
  if (facts.isv_svn < policy.min_isv_svn) {
    return PolicyRefusal{"policy.isv_svn", "ISVSVN is " + std::to_string(facts.isv_svn) +
                                               ", the key requires at least " +
                                               std::to_string(policy.min_isv_svn)};
  }
  if (facts.debug && !policy.allow_debug) {
    return PolicyRefusal{"policy.debug",
                         "the enclave runs in debug mode (its memory is readable by the host); the "
                         "key's policy does not allow debug enclaves"};
  }
  if (!contains(policy.tcb_statuses, facts.tcb_status)) {
    return PolicyRefusal{
        "policy.tcb_status",
        "TCB status is " + facts.tcb_status + ", the key accepts: " + Join(policy.tcb_statuses)};
  }
  if (!contains(policy.advisory_ids, std::string("*"))) {
    for (const auto& id : facts.advisory_ids) {
      if (!contains(policy.advisory_ids, id)) {
        return PolicyRefusal{"policy.advisory", "the platform is affected by " + id +
                                                    ", which the key's policy does not accept "
                                                    "(accepted: " +
                                                    Join(policy.advisory_ids) + ")"};
      }
    }
  }
  if (policy.max_collateral_age_seconds > 0 && facts.collateral_issued_at > 0 &&
      now_unix - facts.collateral_issued_at > policy.max_collateral_age_seconds) {
    return PolicyRefusal{"policy.collateral_age",
                         "the collateral was issued " +
                             std::to_string(now_unix - facts.collateral_issued_at) +
                             " s ago; the key accepts at most " +
                             std::to_string(policy.max_collateral_age_seconds) + " s"};
  }
  return std::nullopt;
}

}  // namespace kmra::server
