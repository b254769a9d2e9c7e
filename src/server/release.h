// The release decision, shared by the KMRA API (/sgx/keys/export) and /v1 (/v1/keys/{id}/release):
//   key has a policy naming the enclave -> client allowed for the key -> quote verifies (DCAP) ->
//   report data = SHA256(exponent || modulus || nonce) -> nonce fresh and unused -> key policy ->
//   HSM wrap -> audit record written and nonce spent, in one store transaction.
// Every decision, allowed or refused, leaves exactly one audit record; a refusal never carries key
// material. A nonce is spent only by a release that succeeds: a refused request or a 503 leaves it
// usable (until it expires), so a client that fixes the cause can retry the same request. Thread
// safe. A background thread purges expired nonces.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/periodic.h"
#include "p11/key_cache.h"
#include "p11/session_pool.h"
#include "p11/wrap.h"
#include "server/attestor.h"
#include "server/audit.h"
#include "server/json.h"
#include "server/metrics.h"
#include "server/nonce_limiter.h"
#include "server/policy.h"
#include "store/store.h"

namespace kmra::server {

struct ReleaseSettings {
  std::int64_t nonce_lifetime = 300;   // seconds
  std::int64_t nonce_clock_skew = 30;  // seconds a KMRA client nonce may be ahead of our clock
  std::vector<std::string> default_clients;
  std::string default_policy_json;    // for keys without a policy; empty: they are never released
  NonceLimiter::Limits nonce_limits;  // POST /v1/nonce per client
  std::int64_t purge_interval = 60;   // seconds between purges of expired nonces
};

struct ReleaseInput {
  std::string api;        // "kmra" or "v1" (audit and metrics label)
  std::string client_id;  // OU of the verified client certificate
  std::string remote;     // peer address, for the audit
  std::string key_id;
  std::vector<std::uint8_t>
      exponent;  // big-endian, exactly the bytes the quote's report data hashed
  std::vector<std::uint8_t> modulus;
  std::vector<std::uint8_t> quote;
  std::vector<std::uint8_t> nonce;
  bool server_nonce =
      false;  // true: the nonce must come from POST /v1/nonce; false: KMRA client nonce
  p11::OaepChoice oaep = p11::OaepChoice::kSha1;
};

// Why a release was refused: HTTP status, stable code, message and details for the JSON error.
struct Refusal {
  int status = 403;
  std::string code;
  std::string message;
  Json details = Json::object();
  std::int64_t retry_after = 0;  // seconds; > 0 adds a Retry-After header (429, 503)
};

Refusal MakeRefusal(int status, std::string code, std::string message,
                    Json details = Json::object());

struct Released {
  std::string key_id;
  int version = 0;
  p11::ReleaseWrapResult wrap;
  std::string certificate_pem;          // the stored chain, leaf first
  bool kmra_certificate_chain = false;  // the key's policy wants the chain on API 0.2, not the leaf
  AttestationResult attestation;
};

struct IssuedNonce {
  std::vector<std::uint8_t> nonce;
  std::int64_t expires_at = 0;
};

class ReleaseService {
 public:
  ReleaseService(store::Store& store, p11::SessionPool& hsm, Attestor& attestor, const Clock& clock,
                 Metrics& metrics, AuditWriter& audit, ReleaseSettings settings);
  ~ReleaseService();
  ReleaseService(const ReleaseService&) = delete;
  ReleaseService& operator=(const ReleaseService&) = delete;

  tl::expected<Released, Refusal> Release(const ReleaseInput& input);

  // KMRA /sgx/attest: verifies the quote, its binding to the public key and nonce, and that the
  // nonce is fresh and unused. Does not use the nonce. Audited as action "attest".
  tl::expected<AttestationResult, Refusal> Attest(const ReleaseInput& input);

  // A fresh server nonce (32 random bytes) for `client`, valid for nonce_lifetime; 429 with
  // retry_after beyond the client's rate or outstanding limit, 503 when the store fails.
  tl::expected<IssuedNonce, Refusal> IssueNonce(const std::string& client);

  // The policy that applies to a key: its own, else [policy] default. NotFound when it has neither;
  // a policy that names no enclave (stored by an older version) is returned and refused by Release.
  Result<Policy> PolicyFor(const std::string& key_id);

  // Deletes expired nonces now and updates the kmra_nonces gauge (the background thread's work).
  void PurgeNonces();

  const ReleaseSettings& settings() const { return settings_; }

 private:
  tl::expected<AttestationResult, Refusal> VerifyAndBind(const ReleaseInput& input,
                                                         AuditEntry* entry);
  Status CheckNonceTime(const std::vector<std::uint8_t>& nonce, std::int64_t now) const;
  // Fresh and unused (not consumed): the nonce may serve this request.
  std::optional<Refusal> CheckNonce(const ReleaseInput& input, std::int64_t now);
  // The claim the release's audit record makes on its nonce.
  store::NonceClaim ClaimFor(const ReleaseInput& input, std::int64_t now) const;
  // The refusal for a nonce the store would not let the release claim.
  Refusal NonceRefusal(const ReleaseInput& input, const Error& error) const;
  tl::expected<p11::ReleaseWrapResult, Refusal> Wrap(const ReleaseInput& input,
                                                     const store::KeyVersion& version);
  // Whether the token shows the newest version of another registered key (so a missing object is
  // that key's problem, not the token's).
  bool OtherKeyVisible(p11::Session& session, const std::string& key_id);

  store::Store& store_;
  p11::SessionPool& hsm_;
  // Where each key version lives in the HSM (checked before use; see p11/key_cache.h).
  p11::KeyHandleCache key_handles_;
  Attestor& attestor_;
  const Clock& clock_;
  Metrics& metrics_;
  AuditWriter& audit_;
  ReleaseSettings settings_;
  NonceLimiter limiter_;

  std::unique_ptr<PeriodicThread> purger_;  // last: started once everything above exists
};

}  // namespace kmra::server
