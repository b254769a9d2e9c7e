// The release decision, shared by the KMRA API (/sgx/keys/export) and /v1 (/v1/keys/{id}/release):
//   client allowed for the key -> quote verifies (DCAP) -> report data = SHA256(exponent || modulus ||
//   nonce) -> nonce fresh and single use -> key policy -> HSM wrap -> audit record.
// Every decision, allowed or refused, leaves exactly one audit record; a refusal never carries key
// material. Thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "p11/key_cache.h"
#include "p11/session_pool.h"
#include "p11/wrap.h"
#include "server/attestor.h"
#include "server/audit.h"
#include "server/json.h"
#include "server/metrics.h"
#include "server/policy.h"
#include "store/store.h"

namespace kmra::server {

struct ReleaseSettings {
  std::int64_t nonce_lifetime = 300;   // seconds
  std::int64_t nonce_clock_skew = 30;  // seconds a KMRA client nonce may be ahead of our clock
  std::vector<std::string> default_clients;
  std::string default_policy_json;     // empty: Policy{} (UpToDate only, no debug, ...)
};

struct ReleaseInput {
  std::string api;        // "kmra" or "v1" (audit and metrics label)
  std::string client_id;  // OU of the verified client certificate
  std::string remote;     // peer address, for the audit
  std::string key_id;
  std::vector<std::uint8_t> exponent;  // big-endian, exactly the bytes the quote's report data hashed
  std::vector<std::uint8_t> modulus;
  std::vector<std::uint8_t> quote;
  std::vector<std::uint8_t> nonce;
  bool server_nonce = false;  // true: the nonce must come from POST /v1/nonce; false: KMRA client nonce
  p11::OaepChoice oaep = p11::OaepChoice::kSha1;
};

// Why a release was refused: HTTP status, stable code, message and details for the JSON error.
struct Refusal {
  int status = 403;
  std::string code;
  std::string message;
  Json details = Json::object();
};

struct Released {
  std::string key_id;
  int version = 0;
  p11::ReleaseWrapResult wrap;
  std::string certificate_pem;
  AttestationResult attestation;
};

class ReleaseService {
 public:
  ReleaseService(store::Store& store, p11::SessionPool& hsm, Attestor& attestor, const Clock& clock,
                 Metrics& metrics, AuditWriter& audit, ReleaseSettings settings);

  tl::expected<Released, Refusal> Release(const ReleaseInput& input);

  // KMRA /sgx/attest: verifies the quote and, when a public key and nonce are given, its binding.
  // Does not consume the nonce. Audited as action "attest".
  tl::expected<AttestationResult, Refusal> Attest(const ReleaseInput& input);

  // A fresh server nonce (32 random bytes) valid for nonce_lifetime; returns it and its expiry.
  Result<std::pair<std::vector<std::uint8_t>, std::int64_t>> IssueNonce();

  // The policy that applies to a key (its own or the default).
  Result<Policy> PolicyFor(const std::string& key_id);

  const ReleaseSettings& settings() const { return settings_; }

 private:
  tl::expected<AttestationResult, Refusal> VerifyAndBind(const ReleaseInput& input,
                                                         AuditEntry* entry);
  Status CheckNonceTime(const std::vector<std::uint8_t>& nonce, std::int64_t now) const;

  store::Store& store_;
  p11::SessionPool& hsm_;
  // Where each key version lives in the HSM (checked before use; see p11/key_cache.h).
  p11::KeyHandleCache key_handles_;
  Attestor& attestor_;
  const Clock& clock_;
  Metrics& metrics_;
  AuditWriter& audit_;
  ReleaseSettings settings_;
};

}  // namespace kmra::server
