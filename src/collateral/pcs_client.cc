#include "collateral/pcs_client.h"

#include <nlohmann/json.hpp>

namespace kmra::collateral {

namespace {

// The signed documents must at least be JSON objects with the body and a signature; the verifier
// checks the rest. Catching truncation here keeps it out of the cache.
Status CheckSignedJson(const std::string& text, const char* field, const std::string& url) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLoss(url + " returned " + std::to_string(text.size()) +
                    " bytes that are not a JSON object (truncated?)");
  }
  if (!j.contains(field) || !j[field].is_object() || !j.contains("signature") ||
      !j["signature"].is_string()) {
    return DataLoss(url + " returned JSON without \"" + field + "\" and \"signature\"");
  }
  return OkStatus();
}

Result<std::string> Chain(const internal::HttpResponse& r, std::initializer_list<const char*> names,
                          const std::string& url) {
  for (const char* name : names) {
    std::string v = r.Header(name);
    if (v.empty()) continue;
    auto decoded = internal::PercentDecode(v);
    if (!decoded) return DataLoss(url + ": header " + name + ": " + decoded.error().message());
    if (decoded->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return DataLoss(url + ": header " + name + " holds no PEM certificate");
    }
    return *decoded;
  }
  return DataLoss(url + " sent no issuer chain header (" + *names.begin() + ")");
}

Result<std::vector<std::uint8_t>> Crl(const internal::HttpResponse& r, const std::string& url) {
  auto der = dcap::CrlToDer(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(r.body.data()), r.body.size()));
  if (!der) return DataLoss(url + ": " + der.error().message());
  return der;
}

}  // namespace

Result<std::unique_ptr<PcsClient>> PcsClient::Create(PcsOptions options) {
  if (options.base_urls.empty()) return InvalidArgument("no PCS/PCCS URL configured");
  if (options.api_version != 3 && options.api_version != 4) {
    return InvalidArgument("PCS API version " + std::to_string(options.api_version) +
                           " is not supported; use 4 (or 3 for SGX only)");
  }
  for (auto& u : options.base_urls) {
    while (!u.empty() && u.back() == '/') u.pop_back();
    if (u.rfind("https://", 0) != 0 && u.rfind("http://", 0) != 0) {
      return InvalidArgument("PCS/PCCS URL \"" + u + "\" must start with https://");
    }
  }
  std::unique_ptr<PcsClient> c(new PcsClient(std::move(options)));
  c->http_.timeout_ms = c->options_.timeout_ms;
  c->http_.connect_timeout_ms = c->options_.connect_timeout_ms;
  c->http_.ca_file = c->options_.ca_file;
  c->http_.verify_tls = c->options_.verify_tls;
  return c;
}

std::string PcsClient::Describe() const {
  std::string s = "pcs:";
  for (std::size_t i = 0; i < options_.base_urls.size(); ++i) {
    s += (i ? "," : "") + options_.base_urls[i];
  }
  return s;
}

Result<internal::HttpResponse> PcsClient::Fetch(const std::string& url, bool allow_404) {
  std::vector<std::string> headers;
  if (!options_.api_key.empty()) headers.push_back("Ocp-Apim-Subscription-Key: " + options_.api_key);
  KMRA_ASSIGN_OR_RETURN(auto r, internal::HttpGet(url, headers, http_));
  if (r.status == 200 || (allow_404 && r.status == 404)) return r;
  if (r.status == 404) return NotFound(url + " answered 404: the service has no such collateral");
  if (r.status >= 500) return Unavailable(url + " answered HTTP " + std::to_string(r.status));
  return Unavailable(url + " answered HTTP " + std::to_string(r.status) +
                     (r.status == 401 ? " (is the API key right?)" : ""));
}

Result<dcap::Collateral> PcsClient::FetchFrom(const std::string& base, const CollateralKey& key) {
  const std::string v = "/certification/v" + std::to_string(options_.api_version);
  const std::string tee_path = key.tee == "TDX" ? "/tdx" : "/sgx";
  dcap::Collateral c;

  const std::string tcb_url = base + tee_path + v + "/tcb?fmspc=" + key.fmspc;
  KMRA_ASSIGN_OR_RETURN(auto tcb, Fetch(tcb_url));
  KMRA_TRY(CheckSignedJson(tcb.body, "tcbInfo", tcb_url));
  c.tcb_info_json = std::move(tcb.body);
  KMRA_ASSIGN_OR_RETURN(c.tcb_signing_chain_pem,
                        Chain(tcb, {"tcb-info-issuer-chain", "sgx-tcb-info-issuer-chain"}, tcb_url));

  const std::string qe_url = base + tee_path + v + "/qe/identity";
  KMRA_ASSIGN_OR_RETURN(auto qe, Fetch(qe_url));
  KMRA_TRY(CheckSignedJson(qe.body, "enclaveIdentity", qe_url));
  c.qe_identity_json = std::move(qe.body);
  KMRA_ASSIGN_OR_RETURN(auto qe_chain, Chain(qe, {"sgx-enclave-identity-issuer-chain"}, qe_url));
  (void)qe_chain;  // the same TCB Signing chain; the verifier uses tcb_signing_chain_pem

  const std::string crl_url = base + "/sgx" + v + "/pckcrl?ca=" + key.pck_ca + "&encoding=der";
  KMRA_ASSIGN_OR_RETURN(auto crl, Fetch(crl_url));
  KMRA_ASSIGN_OR_RETURN(c.pck_crl_der, Crl(crl, crl_url));
  KMRA_ASSIGN_OR_RETURN(c.pck_crl_issuer_chain_pem,
                        Chain(crl, {"sgx-pck-crl-issuer-chain"}, crl_url));

  // PCCS serves the Root CA CRL itself; Intel's PCS does not (404), it is at the root's CRL DP.
  const std::string root_url = base + "/sgx" + v + "/rootcacrl";
  KMRA_ASSIGN_OR_RETURN(auto root, Fetch(root_url, /*allow_404=*/true));
  if (root.status == 404) {
    if (options_.root_ca_crl_url.empty()) {
      return NotFound(root_url + " answered 404 and no root CA CRL URL is configured");
    }
    KMRA_ASSIGN_OR_RETURN(root, Fetch(options_.root_ca_crl_url));
    KMRA_ASSIGN_OR_RETURN(c.root_ca_crl_der, Crl(root, options_.root_ca_crl_url));
  } else {
    KMRA_ASSIGN_OR_RETURN(c.root_ca_crl_der, Crl(root, root_url));
  }
  return c;
}

Result<dcap::Collateral> PcsClient::Get(const CollateralKey& key) {
  if (key.tee == "TDX" && options_.api_version == 3) {
    return InvalidArgument("TDX collateral needs PCS API v4; this client is configured for v3");
  }
  std::string errors;
  bool all_not_found = true;
  bool any_garbage = false;
  for (const auto& base : options_.base_urls) {
    auto c = FetchFrom(base, key);
    if (c) return c;
    any_garbage |= c.error().code() == Code::kDataLoss;
    all_not_found &= c.error().code() == Code::kNotFound;
    errors += (errors.empty() ? "" : "; ") + c.error().message();
  }
  const std::string msg = "no PCS/PCCS delivered collateral for " + key.ToString() + ": " + errors;
  if (any_garbage) return DataLoss(msg);
  return all_not_found ? NotFound(msg) : Unavailable(msg);
}

}  // namespace kmra::collateral
