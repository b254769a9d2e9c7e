// The nonce half of ReleaseService: freshness of KMRA client nonces, the unused-check and the claim
// a release's audit record makes, issuing server nonces under the per-client limits, and the
// background purge of expired nonces.
#include <spdlog/spdlog.h>

#include <chrono>

#include "base/clock.h"
#include "crypto/random.h"
#include "server/release.h"

namespace kmra::server {
namespace {

constexpr size_t kKmraNonceSize = 32;  // 28 random bytes || 4-byte little-endian unix time
// A KMRA nonce whose time lies before this (2020-01-01) was not made now: a fixed nonce, such as
// trusted-certificate-issuer's with --use-random-nonce=false (bytes 00..1f, whose time reads 1986).
constexpr std::int64_t kImplausiblyOld = 1577836800;

}  // namespace

Status ReleaseService::CheckNonceTime(const std::vector<std::uint8_t>& nonce,
                                      std::int64_t now) const {
  if (nonce.size() != kKmraNonceSize) {
    return InvalidArgument("the nonce is " + std::to_string(nonce.size()) +
                           " bytes; a KMRA nonce is 32 (28 random bytes and a 4-byte "
                           "little-endian unix time)");
  }
  std::uint32_t t =
      static_cast<std::uint32_t>(nonce[28]) | static_cast<std::uint32_t>(nonce[29]) << 8 |
      static_cast<std::uint32_t>(nonce[30]) << 16 | static_cast<std::uint32_t>(nonce[31]) << 24;
  std::int64_t age = now - static_cast<std::int64_t>(t);
  if (static_cast<std::int64_t>(t) < kImplausiblyOld) {
    return FailedPrecondition(
        "the nonce's time (its last 4 bytes, little-endian) reads " +
        FormatRfc3339(static_cast<std::int64_t>(t)) +
        ": the nonce must carry the current unix time after 28 random bytes. A fixed nonce is "
        "refused; with trusted-certificate-issuer set --use-random-nonce=true (see "
        "docs/troubleshooting.md)");
  }
  if (age > settings_.nonce_lifetime) {
    return FailedPrecondition("the nonce was made " + std::to_string(age) +
                              " s ago; nonces are accepted for " +
                              std::to_string(settings_.nonce_lifetime) + " s (nonce_lifetime)");
  }
  if (-age > settings_.nonce_clock_skew) {
    return FailedPrecondition("the nonce's time lies " + std::to_string(-age) +
                              " s in the future; check the client's clock");
  }
  return OkStatus();
}

std::optional<Refusal> ReleaseService::CheckNonce(const ReleaseInput& in, std::int64_t now) {
  if (in.server_nonce) {
    auto usable = store_.CheckNonce(in.nonce, store::NonceKind::kServerIssued, now);
    if (!usable) return NonceRefusal(in, usable.error());
    return std::nullopt;
  }
  if (auto fresh = CheckNonceTime(in.nonce, now); !fresh) {
    return MakeRefusal(
        403, fresh.error().code() == Code::kInvalidArgument ? "nonce.malformed" : "nonce.expired",
        fresh.error().message());
  }
  auto unused = store_.CheckNonce(in.nonce, store::NonceKind::kClientSeen, now);
  if (!unused) return NonceRefusal(in, unused.error());
  return std::nullopt;
}

store::NonceClaim ReleaseService::ClaimFor(const ReleaseInput& in, std::int64_t now) const {
  store::NonceClaim claim;
  claim.nonce = in.nonce;
  claim.now = now;
  claim.kind = in.server_nonce ? store::NonceKind::kServerIssued : store::NonceKind::kClientSeen;
  // A client nonce is accepted until its time + lifetime, and its time is at most now + skew.
  claim.expires_at = now + settings_.nonce_lifetime + settings_.nonce_clock_skew;
  return claim;
}

Refusal ReleaseService::NonceRefusal(const ReleaseInput& in, const Error& error) const {
  const Code code = error.code();
  if (code == Code::kUnavailable || code == Code::kInternal || code == Code::kDataLoss) {
    return MakeRefusal(503, "store.unavailable", error.message());
  }
  if (in.server_nonce) {
    std::string why = code == Code::kNotFound
                          ? "the nonce was not issued by this server (POST /v1/nonce), or it "
                            "expired and was purged"
                          : error.message();
    return MakeRefusal(403, "nonce.invalid", why);
  }
  if (code == Code::kAlreadyExists) {
    return MakeRefusal(403, "nonce.reused",
                       "a release already used this nonce; every request needs a new one");
  }
  return MakeRefusal(403, "nonce.invalid", error.message());
}

tl::expected<IssuedNonce, Refusal> ReleaseService::IssueNonce(const std::string& client) {
  const std::int64_t now = clock_.NowUnix();
  if (auto limited = limiter_.Admit(client, now)) {
    metrics_.Add("kmra_nonce_refusals_total", {{"reason", limited->reason}});
    Refusal r =
        MakeRefusal(429, "nonce.rate_limited", limited->message, Json{{"reason", limited->reason}});
    r.retry_after = limited->retry_after;
    return tl::unexpected(std::move(r));
  }
  auto nonce = crypto::RandomBytes(32);
  if (!nonce) return tl::unexpected(MakeRefusal(500, "internal", nonce.error().message()));
  const std::int64_t expires = now + settings_.nonce_lifetime;
  if (auto put = store_.PutNonce(*nonce, store::NonceKind::kServerIssued, expires); !put) {
    Refusal r = MakeRefusal(503, "store.unavailable", put.error().message());
    r.retry_after = 1;
    return tl::unexpected(std::move(r));
  }
  limiter_.Issued(client, *nonce, expires);
  return IssuedNonce{std::move(*nonce), expires};
}

void ReleaseService::PurgeNonces() {
  const std::int64_t now = clock_.NowUnix();
  limiter_.Purge(now);
  auto purged = store_.PurgeExpiredNonces(now);
  if (!purged) {
    spdlog::warn("expired nonces could not be purged: {}", purged.error().ToString());
    return;
  }
  if (auto rows = store_.CountNonces()) {
    metrics_.Set("kmra_nonces", {}, static_cast<double>(*rows));
  }
  if (*purged > 0) spdlog::debug("purged {} expired nonces", *purged);
}

}  // namespace kmra::server
