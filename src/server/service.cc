#include "server/service.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "base/base64.h"
#include "collateral/internal/http.h"
#include "server/json.h"

namespace kmra::server {

std::string B64(std::span<const std::uint8_t> bytes) { return Base64Encode(bytes); }
std::string B64(std::string_view text) {
  return Base64Encode(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

namespace {

// "192.0.2.1:443" -> "192.0.2.1", "::1:443" -> "::1".
std::string SourceAddress(const std::string& remote) {
  const std::size_t colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

}  // namespace
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

Result<std::string> KeyIdParam(const PathParams& params) {
  auto decoded = collateral::internal::PercentDecode(params.at("id"));
  if (!decoded) {
    return InvalidArgument("the key id in the path is not percent-encoded correctly (" +
                           decoded.error().message() + "); encode '/' as %2F");
  }
  KMRA_TRY(store::ValidateKeyId(*decoded));
  return decoded;
}

Service::Service(ServiceDeps deps)
    : deps_(std::move(deps)),
      audit_(*deps_.store, *deps_.clock, deps_.attestor->TrustsSimulatedRoot()),
      verifier_(*deps_.store, metrics_) {
  ReleaseSettings settings;
  settings.nonce_lifetime = deps_.config.nonce_lifetime;
  settings.nonce_clock_skew = deps_.config.nonce_clock_skew;
  settings.default_clients = deps_.config.clients;
  settings.default_policy_json = deps_.config.default_policy_json;
  settings.nonce_limits = {deps_.config.nonce_max_outstanding, deps_.config.nonce_rate,
                           deps_.config.nonce_burst};
  settings.purge_interval = std::min<std::int64_t>(60, deps_.config.nonce_lifetime);
  release_ = std::make_unique<ReleaseService>(*deps_.store, *deps_.hsm, *deps_.attestor,
                                              *deps_.clock, metrics_, audit_, std::move(settings));
  metrics_.Describe("kmra_http_requests_total", Metrics::Type::kCounter,
                    "HTTP requests by route pattern, method and status");
  metrics_.Describe("kmra_http_request_seconds", Metrics::Type::kHistogram,
                    "HTTP request handling time by route pattern");
  metrics_.Describe("kmra_auth_refusals_total", Metrics::Type::kCounter,
                    "Requests refused for a missing, untrusted or unauthorised client certificate");
  audit_.SetAnonymousPerMinute(deps_.config.anonymous_audit_per_minute);
  if (deps_.config.replica.empty()) deps_.config.replica = DefaultReplicaName();
  audit_.SetReplica(deps_.config.replica);
  metrics_.Set("kmra_simulated_root_trusted", {}, deps_.attestor->TrustsSimulatedRoot() ? 1 : 0);
  AddKmraRoutes();
  AddV1Routes();
  AddAdminRoutes();
  AddOpsRoutes();
  (void)deps_.attestor->collateral().Known(deps_.clock->NowUnix());
  // Known() refreshes each platform when it is due (collateral_recheck for usable entries, 10 s
  // for stale or failed ones); asking every few seconds keeps /readyz as current as when it
  // fetched.
  refresher_ = std::make_unique<PeriodicThread>(
      std::chrono::seconds(5), PeriodicThread::First::kWait,
      [this] { (void)deps_.attestor->collateral().Known(deps_.clock->NowUnix()); });
}

Service::~Service() = default;

void Service::Add(std::string method, std::string pattern, Role role, RouteHandler handler) {
  router_.Add(std::move(method), std::move(pattern),
              [this, role, handler = std::move(handler)](Request& req, const PathParams& params) {
                if (auto refused = Authenticate(req, role)) return *refused;
                return handler(req, params);
              });
}

std::optional<Response> Service::Authenticate(Request& req, Role role) {
  if (role == Role::kPublic) return std::nullopt;
  AuditEntry entry;
  entry.action = "authenticate";
  entry.api = req.path.rfind("/v1/", 0) == 0 ? "v1" : "kmra";
  entry.remote = req.remote_address;
  // The path is the client's to choose: bounded, so no request writes a record of its own size.
  entry.detail = BoundedText(req.method, 16) + " " + BoundedText(req.path, 256);
  entry.verdict = "refused";
  std::optional<Response> refusal;
  const ClientIdentity& client = req.client;
  if (!client.presented) {
    entry.failed_check = "client_certificate.missing";
    refusal = ErrorResponse(401, entry.failed_check,
                            "a client certificate is required (mutual TLS); pass the certificate "
                            "issued by this server's client CA");
  } else if (!client.verified) {
    const bool expired = client.problem == ClientIdentity::Problem::kExpired;
    const bool early = client.problem == ClientIdentity::Problem::kNotYetValid;
    entry.failed_check = expired ? "client_certificate.expired"
                         : early ? "client_certificate.not_yet_valid"
                                 : "client_certificate.untrusted";
    const std::string subject = BoundedText(client.subject, 256);
    entry.detail += "; subject " + subject + ": " + client.verify_error;
    refusal = ErrorResponse(
        401, entry.failed_check,
        expired || early
            ? "the client certificate '" + subject + "' " + client.verify_error +
                  "; ask for a new one from this server's client CA"
            : "the client certificate '" + subject +
                  "' is not issued by this server's client CA: " + client.verify_error);
  } else if (client.organizational_unit.empty()) {
    entry.failed_check = "client_certificate.no_ou";
    refusal = ErrorResponse(403, entry.failed_check,
                            "the client certificate '" + client.subject +
                                "' has no OU; the OU is the client's identity");
  } else if (role == Role::kAdmin) {
    const auto& admins = deps_.config.admin_clients;
    if (std::find(admins.begin(), admins.end(), client.organizational_unit) == admins.end()) {
      entry.client = client.organizational_unit;
      entry.failed_check = "admin.required";
      refusal = ErrorResponse(403, entry.failed_check,
                              "client '" + client.organizational_unit +
                                  "' is not an administrator ([tls] admin_clients)");
    }
  }
  if (!refusal) return std::nullopt;
  metrics_.Add("kmra_auth_refusals_total", {{"code", entry.failed_check}});
  if (!client.verified) {
    // Anyone who reaches the port gets here: records are rate limited per source address.
    (void)audit_.WriteAnonymousRefusal(entry, SourceAddress(req.remote_address));
  } else {
    (void)audit_.Write(entry);
  }
  return refusal;
}

Response Service::Handle(Request& req) {
  auto started = std::chrono::steady_clock::now();
  Response res = router_.Dispatch(req);
  std::string pattern = router_.PatternFor(req);
  if (pattern.empty()) pattern = "unmatched";
  // Labels take known values only: the route template and a method the router knows.
  std::string method(router_.MethodLabel(req));
  if (res.deferred) {
    // Counted when the answer is there.
    auto counted = std::make_shared<Deferred>();
    res.deferred->OnComplete([this, counted, pattern = std::move(pattern),
                              method = std::move(method), started](Response answer) {
      Record(pattern, method, answer.status, started);
      counted->Complete(std::move(answer));
    });
    res.deferred = std::move(counted);
    return res;
  }
  Record(pattern, method, res.status, started);
  return res;
}

void Service::Record(const std::string& pattern, const std::string& method, int status,
                     std::chrono::steady_clock::time_point started) {
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.Add("kmra_http_requests_total",
               {{"route", pattern}, {"method", method}, {"status", std::to_string(status)}});
  metrics_.Observe("kmra_http_request_seconds", {{"route", pattern}}, seconds);
}

}  // namespace kmra::server
