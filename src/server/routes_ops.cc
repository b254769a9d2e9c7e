// Operations: /healthz (the process answers), /readyz (HSM, store and collateral usable), /metrics
// (Prometheus text), and PCCS-compatible read-only collateral paths served from the collateral the
// server verifies with.
#include <spdlog/spdlog.h>

#include "base/hex.h"
#include "server/json.h"
#include "server/service.h"

namespace kmra::server {
namespace {

// Percent-encodes a PEM chain for the PCCS issuer-chain headers (DCAP.md: URL-encoded PEM).
std::string UrlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

Response Service::ReadyResponse() {
  std::int64_t now = deps_.clock->NowUnix();
  Json checks = Json::object();
  bool ready = true;
  auto record = [&](const char* name, const Status& s) {
    checks[name] = s ? Json{{"ok", true}} : Json{{"ok", false}, {"error", s.error().message()}};
    if (!s) ready = false;
  };
  record("hsm", deps_.hsm->Check());
  record("store", deps_.store->Ping());
  record("collateral", deps_.attestor->Ready(now));
  Json body{{"ready", ready}, {"checks", checks}};
  if (deps_.attestor->TrustsSimulatedRoot()) {
    body["warning"] =
        "TRUSTING THE SIMULATED SGX ROOT: quotes are not evidence of SGX hardware (development only)";
    body["simulated_root"] = true;
  } else {
    body["simulated_root"] = false;
  }
  metrics_.Set("kmra_ready", {}, ready ? 1 : 0);
  return JsonResponse(ready ? 200 : 503, body);
}

void Service::AddOpsRoutes() {
  Add("GET", "/healthz", Role::kPublic, [](Request&, const PathParams&) {
    return JsonResponse(200, Json{{"status", "ok"}});
  });
  Add("GET", "/readyz", Role::kPublic,
      [this](Request&, const PathParams&) { return ReadyResponse(); });
  Add("GET", "/metrics", Role::kClient, [this](Request&, const PathParams&) {
    return Response{200, "text/plain; version=0.0.4", metrics_.Render(), {}};
  });

  // PCCS v4 read-only paths (DCAP.md §12), from the collateral this server verifies with.
  Add("GET", "/sgx/certification/v4/tcb", Role::kClient, [this](Request& req, const PathParams&) {
    std::string fmspc = req.QueryParam("fmspc");
    for (char& c : fmspc) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (fmspc.size() != 12) {
      return ErrorResponse(400, "request.fmspc", "query parameter fmspc must be 12 hex digits");
    }
    auto c = deps_.attestor->CollateralFor(fmspc, deps_.clock->NowUnix());
    if (!c) return ErrorResponse(404, "collateral.not_found", c.error().message());
    Response res{200, "application/json", c->tcb_info_json, {}};
    res.headers.emplace_back("TCB-Info-Issuer-Chain", UrlEncode(c->tcb_signing_chain_pem));
    return res;
  });
  auto any_collateral = [this]() -> Result<dcap::Collateral> {
    // QE identity and CRLs are the same for every platform of one PKI; use the first FMSPC found.
    return deps_.attestor->AnyCollateral(deps_.clock->NowUnix());
  };
  Add("GET", "/sgx/certification/v4/qe/identity", Role::kClient,
      [any_collateral](Request&, const PathParams&) {
        auto c = any_collateral();
        if (!c) return ErrorResponse(404, "collateral.not_found", c.error().message());
        Response res{200, "application/json", c->qe_identity_json, {}};
        res.headers.emplace_back("SGX-Enclave-Identity-Issuer-Chain",
                                 UrlEncode(c->tcb_signing_chain_pem));
        return res;
      });
  Add("GET", "/sgx/certification/v4/pckcrl", Role::kClient,
      [any_collateral](Request& req, const PathParams&) {
        auto c = any_collateral();
        if (!c) return ErrorResponse(404, "collateral.not_found", c.error().message());
        Response res;
        if (req.QueryParam("encoding") == "der") {
          res = Response{200, "application/pkix-crl",
                         std::string(c->pck_crl_der.begin(), c->pck_crl_der.end()), {}};
        } else {
          res = Response{200, "text/plain", HexEncode(c->pck_crl_der), {}};  // PCCS: hex of DER
        }
        res.headers.emplace_back("SGX-PCK-CRL-Issuer-Chain", UrlEncode(c->pck_crl_issuer_chain_pem));
        return res;
      });
  Add("GET", "/sgx/certification/v4/rootcacrl", Role::kClient,
      [any_collateral](Request&, const PathParams&) {
        auto c = any_collateral();
        if (!c) return ErrorResponse(404, "collateral.not_found", c.error().message());
        return Response{200, "text/plain", HexEncode(c->root_ca_crl_der), {}};
      });
}

}  // namespace kmra::server
