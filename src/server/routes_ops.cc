// Operations: /healthz (the process answers), /readyz (this replica's name, its HSM and store, and
// per known platform whether its collateral is fresh), /metrics (Prometheus text), and PCCS-compatible read-only collateral
// paths served from the collateral chain the server verifies with.
#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "base/hex.h"
#include "server/json.h"
#include "server/server_store.h"
#include "server/service.h"

namespace kmra::server {

// The "collateral" check of /readyz: per known platform whether its collateral is fresh and from
// where. Ready when at least one platform has usable collateral, or when a PCCS is configured and
// no platform is known yet (the first quote fetches its collateral).
Json Service::CollateralReadiness(std::int64_t now, bool* ok) {
  PlatformCollateral& pc = deps_.attestor->collateral();
  Json platforms = Json::array();
  bool any_usable = false;
  std::string first_problem;
  std::vector<Labels> fresh_series;
  std::vector<Labels> next_update_series;
  // Only what is there: /readyz answers anyone, so it never makes the server fetch (the background
  // refresher of Service does).
  for (const auto& e : pc.Snapshot()) {
    const bool usable = e->UsableAt(now, pc.max_age());
    any_usable |= usable;
    Json p{{"platform", e->key.ToString()}, {"fmspc", e->key.fmspc}, {"fresh", usable}};
    if (e->collateral) {
      p["origin"] = e->origin;
      p["next_update"] = FormatRfc3339(e->next_update);
      p["fetched_at"] = FormatRfc3339(e->fetched_at);
    }
    if (!e->refresh_error.empty()) p["refresh_error"] = e->refresh_error;
    if (!usable) {
      p["problem"] = e->Problem(now, pc.max_age());
      if (first_problem.empty()) first_problem = p["problem"];
    }
    const Labels labels{{"platform", e->key.ToString()}};
    metrics_.Set("kmra_collateral_fresh", labels, usable ? 1 : 0);
    fresh_series.push_back(labels);
    if (e->collateral) {
      metrics_.Set("kmra_collateral_next_update_seconds", labels,
                   static_cast<double>(e->next_update));
      next_update_series.push_back(labels);
    }
    platforms.push_back(std::move(p));
  }
  // A platform dropped from the collateral map (least recently used beyond its bound) loses its
  // series too.
  metrics_.KeepOnly("kmra_collateral_fresh", fresh_series);
  metrics_.KeepOnly("kmra_collateral_next_update_seconds", next_update_series);
  *ok = any_usable || (platforms.empty() && pc.upstream_network());
  Json out{{"ok", *ok}, {"source", pc.Describe()}, {"platforms", platforms}};
  if (!*ok) {
    out["error"] = !pc.configured()    ? "no collateral source is configured ([attestation] "
                                         "collateral_dir or pccs_url)"
                   : platforms.empty() ? "no platform's collateral is known under " + pc.Describe()
                   : any_usable        ? std::string()
                                       : "no platform has fresh collateral: " + first_problem;
  } else if (platforms.empty()) {
    out["note"] =
        "no platform known yet; the first quote fetches its collateral (list them in "
        "[attestation] platforms to check them from the start)";
  }
  return out;
}

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
  checks["store"]["backend"] = StateStoreBackend(deps_.config);
  bool collateral_ok = false;
  checks["collateral"] = CollateralReadiness(now, &collateral_ok);
  ready = ready && collateral_ok;
  // The listener's gauges: refusing connections at max_connections, or out of file descriptors.
  const bool saturated = metrics_.Value("kmra_listener_saturated", {}) > 0;
  checks["connections"] = Json{{"ok", !saturated},
                               {"open", metrics_.Value("kmra_connections_open", {})},
                               {"max", metrics_.Value("kmra_connections_max", {})},
                               {"open_files_limit", metrics_.Value("kmra_open_files_limit", {})}};
  if (saturated) {
    checks["connections"]["error"] =
        "saturated: new connections are refused or accept() is out of file descriptors (see "
        "kmra_connections_refused_total and kmra_accept_errors_total)";
    ready = false;
  }
  Json body{{"ready", ready}, {"replica", deps_.config.replica}, {"checks", checks}};
  // Keys whose policy allows any enclave (allow_any_enclave) are named only by number here: /readyz
  // answers without a client certificate. `kmra keys list` names them.
  if (auto keys = deps_.store->ListKeys()) {
    std::int64_t any_enclave = 0;
    for (const auto& k : *keys) {
      auto policy = release_->PolicyFor(k.id);
      any_enclave += policy && policy->allow_any_enclave ? 1 : 0;
    }
    body["keys_allowing_any_enclave"] = any_enclave;
    if (any_enclave > 0) {
      body["policy_warning"] = std::to_string(any_enclave) +
                               " key(s) are released to any enclave (allow_any_enclave); "
                               "`kmra keys list` names them";
    }
  }
  if (deps_.attestor->TrustsSimulatedRoot()) {
    body["warning"] =
        "TRUSTING THE SIMULATED SGX ROOT: quotes are not evidence of SGX hardware (development "
        "only)";
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

  // PCCS v4 read-only paths (DCAP.md §12), served from the chain this server verifies with (the
  // in-memory copy, the cache, then the PCCS or the offline bundle). Only current collateral is
  // served; stale collateral is a 503 naming why.
  auto unavailable = [](const Error& e) {
    return e.code() == Code::kNotFound
               ? ErrorResponse(404, "collateral.not_found", e.message())
               : ErrorResponse(503,
                               e.code() == Code::kFailedPrecondition ? "collateral.stale"
                                                                     : "collateral.unavailable",
                               e.message());
  };
  Add("GET", "/sgx/certification/v4/tcb", Role::kClient,
      [this, unavailable](Request& req, const PathParams&) {
        std::string fmspc = req.QueryParam("fmspc");
        for (char& c : fmspc) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (fmspc.size() != 12 ||
            fmspc.find_first_not_of("0123456789ABCDEF") != std::string::npos) {
          return ErrorResponse(400, "request.fmspc", "query parameter fmspc must be 12 hex digits");
        }
        auto entry = TcbEntry(fmspc);
        if (!entry) return unavailable(entry.error());
        Response res{200, "application/json", (*entry)->collateral->tcb_info_json, {}};
        res.headers.emplace_back("TCB-Info-Issuer-Chain",
                                 UrlEncode((*entry)->collateral->tcb_signing_chain_pem));
        return res;
      });
  auto any = [this](const std::string& pck_ca) {
    return deps_.attestor->collateral().AnyUsable(deps_.clock->NowUnix(),
                                                  [pck_ca](const collateral::CollateralKey& k) {
                                                    return pck_ca.empty() || k.pck_ca == pck_ca;
                                                  });
  };
  Add("GET", "/sgx/certification/v4/qe/identity", Role::kClient,
      [any, unavailable](Request&, const PathParams&) {
        auto e = any("");
        if (!e) return unavailable(e.error());
        Response res{200, "application/json", (*e)->collateral->qe_identity_json, {}};
        res.headers.emplace_back("SGX-Enclave-Identity-Issuer-Chain",
                                 UrlEncode((*e)->collateral->tcb_signing_chain_pem));
        return res;
      });
  Add("GET", "/sgx/certification/v4/pckcrl", Role::kClient,
      [any, unavailable](Request& req, const PathParams&) {
        const std::string ca = req.QueryParam("ca");
        if (ca != "processor" && ca != "platform") {
          return ErrorResponse(400, "request.ca",
                               "query parameter ca must be processor or platform");
        }
        auto e = any(ca);
        if (!e) return unavailable(e.error());
        const auto& der = (*e)->collateral->pck_crl_der;
        Response res;
        if (req.QueryParam("encoding") == "der") {
          res = Response{200, "application/pkix-crl", std::string(der.begin(), der.end()), {}};
        } else {
          res = Response{200, "text/plain", HexEncode(der), {}};  // PCCS: hex of DER
        }
        res.headers.emplace_back("SGX-PCK-CRL-Issuer-Chain",
                                 UrlEncode((*e)->collateral->pck_crl_issuer_chain_pem));
        return res;
      });
  Add("GET", "/sgx/certification/v4/rootcacrl", Role::kClient,
      [any, unavailable](Request&, const PathParams&) {
        auto e = any("");
        if (!e) return unavailable(e.error());
        return Response{200, "text/plain", HexEncode((*e)->collateral->root_ca_crl_der), {}};
      });
}

// The TCB info of an FMSPC: a known platform with that FMSPC, else the chain asked for it with the
// processor CA, then the platform CA (the TCB info does not depend on the CA).
Result<std::shared_ptr<const PlatformEntry>> Service::TcbEntry(const std::string& fmspc) {
  PlatformCollateral& pc = deps_.attestor->collateral();
  const std::int64_t now = deps_.clock->NowUnix();
  auto known =
      pc.AnyUsable(now, [&](const collateral::CollateralKey& k) { return k.fmspc == fmspc; });
  if (known || known.error().code() != Code::kNotFound) return known;
  Error last = known.error();
  for (const char* ca : {"processor", "platform"}) {
    auto key = collateral::CollateralKey::Make(fmspc, "SGX", ca);
    if (!key) return tl::unexpected(key.error());
    auto e = pc.For(*key, now);
    if (!e) {
      last = e.error();
      continue;
    }
    if (!(*e)->UsableAt(now, pc.max_age())) {
      return FailedPrecondition((*e)->Problem(now, pc.max_age()));
    }
    return e;
  }
  return NotFound("no TCB info for FMSPC " + fmspc + ": " + last.message());
}

}  // namespace kmra::server
