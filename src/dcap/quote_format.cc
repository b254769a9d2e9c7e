#include "dcap/quote_format.h"

#include "dcap/internal/bytes.h"

namespace kmra::dcap {
namespace {

using internal::Hex;
using json = nlohmann::ordered_json;

json ReportJson(const EnclaveReport& r) {
  return json{{"cpu_svn", Hex(r.cpu_svn)},
              {"misc_select", r.misc_select},
              {"isv_ext_prod_id", Hex(r.isv_ext_prod_id)},
              {"attributes", Hex(r.attributes)},
              {"debug", r.debug()},
              {"mr_enclave", Hex(r.mr_enclave)},
              {"mr_signer", Hex(r.mr_signer)},
              {"config_id", Hex(r.config_id)},
              {"isv_prod_id", r.isv_prod_id},
              {"isv_svn", r.isv_svn},
              {"config_svn", r.config_svn},
              {"isv_family_id", Hex(r.isv_family_id)},
              {"report_data", Hex(r.report_data)}};
}

json TdJson(const TdReport& t) {
  json j{{"tee_tcb_svn", Hex(t.tee_tcb_svn)},
         {"mr_seam", Hex(t.mr_seam)},
         {"mrsigner_seam", Hex(t.mrsigner_seam)},
         {"seam_attributes", Hex(t.seam_attributes)},
         {"td_attributes", Hex(t.td_attributes)},
         {"debug", t.debug()},
         {"xfam", Hex(t.xfam)},
         {"mr_td", Hex(t.mr_td)},
         {"mr_config_id", Hex(t.mr_config_id)},
         {"mr_owner", Hex(t.mr_owner)},
         {"mr_owner_config", Hex(t.mr_owner_config)},
         {"rtmr0", Hex(t.rtmr[0])},
         {"rtmr1", Hex(t.rtmr[1])},
         {"rtmr2", Hex(t.rtmr[2])},
         {"rtmr3", Hex(t.rtmr[3])},
         {"report_data", Hex(t.report_data)}};
  if (t.v15) {
    j["tee_tcb_svn2"] = Hex(t.tee_tcb_svn2);
    j["mr_servicetd"] = Hex(t.mr_servicetd);
  }
  return j;
}

void TextLines(const json& j, const std::string& indent, std::string* out) {
  for (const auto& [key, value] : j.items()) {
    if (value.is_object()) {
      *out += indent + key + ":\n";
      TextLines(value, indent + "  ", out);
    } else if (value.is_string()) {
      *out += indent + key + ": " + value.get<std::string>() + "\n";
    } else {
      *out += indent + key + ": " + value.dump() + "\n";
    }
  }
}

}  // namespace

json QuoteToJson(const Quote& q) {
  const QuoteHeader& h = q.header;
  json header{{"version", h.version},
              {"att_key_type", h.att_key_type},
              {"tee_type", TeeName(h.tee_type)},
              {"qe_vendor_id", Hex(h.qe_vendor_id)},
              {"user_data", Hex(h.user_data)}};
  if (h.version == 3) {
    header["qe_svn"] = h.qe_svn;
    header["pce_svn"] = h.pce_svn;
  }
  json j{{"header", header}, {"body_type", q.body_type}};
  if (q.sgx) j["enclave_report"] = ReportJson(*q.sgx);
  if (q.td) j["td_report"] = TdJson(*q.td);
  const CertificationData& cd = q.cert_data;
  json cert{{"type", cd.type}, {"size", cd.declared_size}};
  if (cd.type != cd.nested_type) cert["nested_type"] = cd.nested_type;
  if (!cd.pck_chain_pem.empty()) {
    cert["pck_chain_pem"] = cd.pck_chain_pem;
  } else {
    cert["data"] = Hex(cd.data);
  }
  j["signature_data"] = json{{"offset", q.signature_data_offset},
                             {"length", q.signature_data_len},
                             {"signature", Hex(q.signature)},
                             {"attestation_key", Hex(q.attestation_key)},
                             {"qe_report", ReportJson(q.qe_report)},
                             {"qe_report_signature", Hex(q.qe_report_signature)},
                             {"qe_auth_data", Hex(q.qe_auth_data)},
                             {"certification_data", cert}};
  j["size"] = q.size;
  j["trailing_bytes"] = q.trailing_bytes;
  return j;
}

std::string QuoteToText(const Quote& q) {
  json j = QuoteToJson(q);
  // The PEM is long and multi-line: print a summary instead of the raw text.
  auto& cert = j["signature_data"]["certification_data"];
  if (cert.contains("pck_chain_pem")) {
    const std::string pem = cert["pck_chain_pem"].get<std::string>();
    size_t n = 0;
    for (size_t p = pem.find("-----BEGIN CERTIFICATE-----"); p != std::string::npos;
         p = pem.find("-----BEGIN CERTIFICATE-----", p + 1)) {
      ++n;
    }
    cert.erase("pck_chain_pem");
    cert["pck_chain"] = std::to_string(n) + " PEM certificates";
  }
  std::string out;
  TextLines(j, "", &out);
  return out;
}

}  // namespace kmra::dcap
