// The key server's HTTP application: authentication by client certificate, the KMRA AppHSM API 0.2,
// /v1 (release, nonces, admin, audit), PCCS-compatible collateral paths, /metrics, /healthz,
// /readyz. Service::Handle is the listener's handler. Thread safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/periodic.h"
#include "p11/session_pool.h"
#include "server/attestor.h"
#include "server/audit.h"
#include "server/audit_verifier.h"
#include "server/config.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/release.h"
#include "server/router.h"
#include "store/store.h"

namespace kmra::server {

struct ServiceDeps {
  ServerConfig config;
  store::Store* store = nullptr;
  p11::SessionPool* hsm = nullptr;
  Attestor* attestor = nullptr;
  const Clock* clock = nullptr;
};

class Service {
 public:
  // Refreshes the collateral of every known platform once, then keeps doing so in a background
  // thread (so /readyz, which anyone may call, only reads what is there).
  explicit Service(ServiceDeps deps);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Handles one request: authenticates, routes, counts. Never throws.
  Response Handle(Request& request);

  Metrics& metrics() { return metrics_; }
  ReleaseService& release() { return *release_; }

 private:
  enum class Role { kPublic, kClient, kAdmin };

  void Add(std::string method, std::string pattern, Role role, RouteHandler handler);
  // Refuses requests without a verified certificate (or without the admin OU for admin routes),
  // leaving an audit record. Returns the refusal, or nullopt to continue.
  std::optional<Response> Authenticate(Request& request, Role role);

  void AddKmraRoutes();
  void AddV1Routes();
  void AddAdminRoutes();
  void AddOpsRoutes();

  Response ReadyResponse();
  Json CollateralReadiness(std::int64_t now, bool* ok);
  Result<std::shared_ptr<const PlatformEntry>> TcbEntry(const std::string& fmspc);

  // Counts a request in kmra_http_requests_total / kmra_http_request_seconds.
  void Record(const std::string& pattern, const std::string& method, int status,
              std::chrono::steady_clock::time_point started);

  ServiceDeps deps_;
  Metrics metrics_;
  AuditWriter audit_;
  std::unique_ptr<ReleaseService> release_;
  Router router_;
  AuditVerifier verifier_;  // after metrics_: its answers count there

  std::unique_ptr<PeriodicThread> refresher_;  // last: started once everything above exists
};

// Percent-encodes everything but RFC 3986 unreserved characters (a path segment, a header value).
std::string UrlEncode(std::string_view text);

// The {id} path parameter, percent-decoded ("a%2Fb" -> "a/b": key ids may hold '/') and checked
// with store::ValidateKeyId.
Result<std::string> KeyIdParam(const PathParams& params);

// Standard base64 of bytes / PEM text, as the KMRA API carries them.
std::string B64(std::span<const std::uint8_t> bytes);
std::string B64(std::string_view text);

}  // namespace kmra::server
