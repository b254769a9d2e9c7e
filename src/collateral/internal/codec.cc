#include "collateral/internal/codec.h"

#include <openssl/x509.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/clock.h"
#include "crypto/ossl.h"

namespace kmra::collateral::internal {

namespace {

using Json = nlohmann::json;

Result<int64_t> JsonNextUpdate(const std::string& text, const char* field) {
  auto j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains(field) || !j[field].is_object()) {
    return DataLoss(std::string(field) + " is not a JSON object");
  }
  const Json& body = j[field];
  if (!body.contains("nextUpdate") || !body["nextUpdate"].is_string()) {
    return DataLoss(std::string(field) + " has no nextUpdate");
  }
  auto t = ParseTime(body["nextUpdate"].get<std::string>());
  if (!t) return DataLoss(std::string(field) + ".nextUpdate: " + t.error().message());
  return *t;
}

Result<int64_t> CrlNextUpdate(const std::vector<std::uint8_t>& der, const char* what) {
  const unsigned char* p = der.data();
  auto crl = ossl::Wrap(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl || X509_CRL_get0_nextUpdate(crl.get()) == nullptr) {
    ERR_clear_error();
    return DataLoss(std::string(what) + " is not a DER CRL with a nextUpdate");
  }
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(crl.get()), &tm) != 1) {
    return DataLoss(std::string(what) + " has an unreadable nextUpdate");
  }
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::vector<std::uint8_t> EncodeCollateral(const dcap::Collateral& c) {
  Json j;
  j["format"] = 1;
  j["tcb_info"] = c.tcb_info_json;
  j["qe_identity"] = c.qe_identity_json;
  j["tcb_signing_chain"] = c.tcb_signing_chain_pem;
  j["root_ca_crl"] = Base64Encode(c.root_ca_crl_der);
  j["pck_crl"] = Base64Encode(c.pck_crl_der);
  j["pck_crl_issuer_chain"] = c.pck_crl_issuer_chain_pem;
  j["trusted_root"] = c.trusted_root_pem;
  const std::string s = j.dump();
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

Result<dcap::Collateral> DecodeCollateral(const std::vector<std::uint8_t>& bytes) {
  auto j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("format", 0) != 1) {
    return DataLoss("cached collateral is not format-1 JSON");
  }
  dcap::Collateral c;
  auto str = [&j](const char* name, std::string& out) -> Status {
    if (!j.contains(name) || !j[name].is_string()) {
      return DataLoss(std::string("cached collateral lacks \"") + name + "\"");
    }
    out = j[name].get<std::string>();
    return OkStatus();
  };
  std::string root_crl, pck_crl;
  KMRA_TRY(str("tcb_info", c.tcb_info_json));
  KMRA_TRY(str("qe_identity", c.qe_identity_json));
  KMRA_TRY(str("tcb_signing_chain", c.tcb_signing_chain_pem));
  KMRA_TRY(str("root_ca_crl", root_crl));
  KMRA_TRY(str("pck_crl", pck_crl));
  KMRA_TRY(str("pck_crl_issuer_chain", c.pck_crl_issuer_chain_pem));
  KMRA_TRY(str("trusted_root", c.trusted_root_pem));
  auto r = Base64Decode(root_crl);
  auto p = Base64Decode(pck_crl);
  if (!r || !p) return DataLoss("cached collateral has CRLs that are not base64");
  c.root_ca_crl_der = std::move(*r);
  c.pck_crl_der = std::move(*p);
  return c;
}

Result<int64_t> EarliestNextUpdate(const dcap::Collateral& c) {
  KMRA_ASSIGN_OR_RETURN(int64_t tcb, JsonNextUpdate(c.tcb_info_json, "tcbInfo"));
  KMRA_ASSIGN_OR_RETURN(int64_t qe, JsonNextUpdate(c.qe_identity_json, "enclaveIdentity"));
  KMRA_ASSIGN_OR_RETURN(int64_t root, CrlNextUpdate(c.root_ca_crl_der, "the Root CA CRL"));
  KMRA_ASSIGN_OR_RETURN(int64_t pck, CrlNextUpdate(c.pck_crl_der, "the PCK CRL"));
  return std::min({tcb, qe, root, pck});
}

}  // namespace kmra::collateral::internal
