#include "server/release.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

#include "base/hex.h"
#include "crypto/hash.h"
#include "p11/keys.h"

namespace kmra::server {
namespace {

Json FailuresJson(const AttestationResult& r) {
  Json checks = Json::array();
  for (const auto& f : r.failures) checks.push_back({{"code", f.code}, {"message", f.message}});
  return checks;
}

std::string HexOf(std::span<const std::uint8_t> b) { return HexEncode(b); }

// The audit record of one request, before its outcome is known.
AuditEntry EntryFor(const ReleaseInput& in, std::string action) {
  AuditEntry entry;
  entry.action = std::move(action);
  entry.api = in.api;
  entry.client = in.client_id;
  entry.remote = in.remote;
  entry.key_id = in.key_id;
  return entry;
}

// A refusal in the audit record: server-side failures (5xx) are errors, the rest refusals.
void RecordRefusal(const Refusal& refusal, AuditEntry* entry) {
  entry->verdict = refusal.status >= 500 ? "error" : "refused";
  entry->failed_check = refusal.code;
  entry->detail = refusal.message;
}

std::string NoPolicyMessage(const std::string& key_id) {
  return "key '" + key_id +
         "' has no release policy, so it is never released (deny by default). Set one with "
         "`kmra policy set " +
         key_id + " FILE` (PUT /v1/keys/{id}/policy) that " + PolicyHowTo() +
         ". Keys registered from apphsm.conf use [policy] default of the server config, which "
         "is not set";
}

}  // namespace

Refusal MakeRefusal(int status, std::string code, std::string message, Json details) {
  return Refusal{status, std::move(code), std::move(message), std::move(details), 0};
}

ReleaseService::ReleaseService(store::Store& store, p11::SessionPool& hsm, Attestor& attestor,
                               const Clock& clock, Metrics& metrics, AuditWriter& audit,
                               ReleaseSettings settings)
    : store_(store),
      hsm_(hsm),
      attestor_(attestor),
      clock_(clock),
      metrics_(metrics),
      audit_(audit),
      settings_(std::move(settings)),
      limiter_(settings_.nonce_limits) {
  metrics_.Describe("kmra_releases_total", Metrics::Type::kCounter,
                    "Release decisions by API, verdict and refusal code");
  metrics_.Describe("kmra_release_seconds", Metrics::Type::kHistogram,
                    "Time to decide and wrap one release");
  metrics_.Describe("kmra_nonces", Metrics::Type::kGauge,
                    "Rows of the nonce table (issued, used and seen nonces until purged)");
  metrics_.Describe("kmra_nonce_refusals_total", Metrics::Type::kCounter,
                    "POST /v1/nonce refused with 429, by reason (rate, outstanding)");
  purger_ =
      std::make_unique<PeriodicThread>(std::chrono::seconds(settings_.purge_interval),
                                       PeriodicThread::First::kRunNow, [this] { PurgeNonces(); });
}

ReleaseService::~ReleaseService() = default;

Result<Policy> ReleaseService::PolicyFor(const std::string& key_id) {
  auto stored = store_.GetPolicy(key_id);
  if (stored) {
    // Older versions stored policies that name no enclave; read them so Release can refuse them
    // with policy.missing rather than fail with a parse error.
    auto p = ParsePolicy(stored->json, /*allow_unnamed_enclave=*/true);
    if (!p) {
      // Whatever the parser's code (a policy over the size cap is ResourceExhausted), the stored
      // policy is invalid: Release tells that apart from a store that failed by the code.
      return InvalidArgument(
          p.error().WithContext("stored policy of key '" + key_id + "'").message());
    }
    return p;
  }
  if (stored.error().code() != Code::kNotFound) return tl::unexpected(stored.error());
  if (settings_.default_policy_json.empty()) return NotFound(NoPolicyMessage(key_id));
  return ParsePolicy(settings_.default_policy_json);
}

tl::expected<AttestationResult, Refusal> ReleaseService::VerifyAndBind(const ReleaseInput& in,
                                                                       AuditEntry* entry) {
  if (in.quote.empty())
    return tl::unexpected(MakeRefusal(400, "request.quote", "the quote is empty"));
  auto checked = attestor_.Check(in.quote, clock_.NowUnix());
  if (!checked) {
    const Error& e = checked.error();
    if (e.code() == Code::kUnavailable) {
      return tl::unexpected(MakeRefusal(503, "collateral.unavailable", e.message()));
    }
    return tl::unexpected(MakeRefusal(400, "quote.malformed", e.message()));
  }
  entry->SetAttestation(*checked);
  if (!checked->verified) {
    const auto& first = checked->failures.front();
    // Stale collateral is the server's problem, not the client's: 503, retry once it is refreshed.
    const int status = first.code == "collateral.stale" ? 503 : 403;
    return tl::unexpected(
        MakeRefusal(status, first.code, "the quote did not verify: " + first.message,
                    Json{{"checks", FailuresJson(*checked)}, {"tcb_status", checked->tcb_status}}));
  }
  // Report data binding (ARCHITECTURE.md step 3): the enclave vouches for this public key and
  // nonce.
  std::vector<std::uint8_t> bound;
  bound.reserve(in.exponent.size() + in.modulus.size() + in.nonce.size());
  bound.insert(bound.end(), in.exponent.begin(), in.exponent.end());
  bound.insert(bound.end(), in.modulus.begin(), in.modulus.end());
  bound.insert(bound.end(), in.nonce.begin(), in.nonce.end());
  auto digest = crypto::Sha256(bound);
  if (std::memcmp(digest.data(), checked->report_data.data(), digest.size()) != 0) {
    return tl::unexpected(MakeRefusal(
        403, "report_data.binding",
        "the quote's report data is not SHA-256(exponent || modulus || nonce) of this request: the "
        "public key or nonce sent is not the one the enclave quoted",
        Json{{"expected", HexOf(digest)},
             {"actual", HexOf(std::span(checked->report_data).first(32))}}));
  }
  return *checked;
}

tl::expected<Released, Refusal> ReleaseService::Release(const ReleaseInput& in) {
  auto started = std::chrono::steady_clock::now();
  AuditEntry entry = EntryFor(in, "release");
  const std::int64_t now = clock_.NowUnix();

  auto finish = [&](tl::expected<Released, Refusal> outcome) -> tl::expected<Released, Refusal> {
    if (outcome) {
      entry.verdict = "allowed";
      entry.key_version = outcome->version;
      entry.wrap_mechanisms = outcome->wrap.swk_mechanism + " + " + outcome->wrap.key_mechanism;
      entry.detail = "released";
      const store::NonceClaim claim = ClaimFor(in, now);
      if (auto written = audit_.Write(entry, &claim); !written) {
        // No audit record, no release: fail closed. The nonce is not spent either.
        const Code code = written.error().code();
        const bool nonce_taken = code == Code::kAlreadyExists ||
                                 code == Code::kFailedPrecondition || code == Code::kNotFound;
        outcome = tl::unexpected(
            nonce_taken ? NonceRefusal(in, written.error())
                        : MakeRefusal(503, "audit.unavailable",
                                      "the audit record could not be written, so the key is not "
                                      "released; retry later (the nonce is still usable)"));
        entry.wrap_mechanisms.clear();
        RecordRefusal(outcome.error(), &entry);
        (void)audit_.Write(entry);
      } else if (in.server_nonce) {
        limiter_.Used(in.client_id, in.nonce);
      }
    } else {
      RecordRefusal(outcome.error(), &entry);
      (void)audit_.Write(entry);
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics_.Add("kmra_releases_total", {{"api", in.api},
                                         {"verdict", outcome ? "allowed" : entry.verdict},
                                         {"code", outcome ? "" : outcome.error().code}});
    metrics_.Observe("kmra_release_seconds", {{"api", in.api}}, seconds);
    return outcome;
  };

  auto key = store_.GetKey(in.key_id);
  if (!key) {
    if (key.error().code() == Code::kNotFound) {
      return finish(tl::unexpected(
          MakeRefusal(404, "key.not_found", "no key '" + in.key_id + "' on this server")));
    }
    return finish(tl::unexpected(MakeRefusal(503, "store.unavailable", key.error().message())));
  }
  const store::KeyVersion* version = key->newest();
  if (!version) {
    return finish(tl::unexpected(
        MakeRefusal(409, "key.no_version", "key '" + in.key_id + "' has no version yet")));
  }
  entry.key_version = version->version;
  auto policy = PolicyFor(in.key_id);
  if (!policy) {
    // No policy: deny. A stored policy that does not parse: the operator's to mend. Anything else
    // is the store failing between the key's read and the policy's (a database restart under
    // load): a dependency that is down, retried like the key's read, with the nonce unspent.
    const Code code = policy.error().code();
    const std::string& why = policy.error().message();
    auto refusal = [&] {
      if (code == Code::kNotFound) return MakeRefusal(403, "policy.missing", why);
      if (code == Code::kInvalidArgument) return MakeRefusal(500, "policy.invalid", why);
      return MakeRefusal(503, "store.unavailable", why);
    };
    return finish(tl::unexpected(refusal()));
  }
  if (!policy->NamesEnclave()) {
    return finish(tl::unexpected(MakeRefusal(403, "policy.missing", NoPolicyMessage(in.key_id))));
  }
  if (auto refusal = CheckClient(*policy, settings_.default_clients, in.client_id)) {
    return finish(tl::unexpected(MakeRefusal(403, refusal->code, refusal->message)));
  }
  auto attested = VerifyAndBind(in, &entry);
  if (!attested) return finish(tl::unexpected(attested.error()));
  // Nonce: fresh and unused (after the binding check, so garbage cannot probe nonces). It is spent
  // only when the release's audit record is written, below.
  if (auto refusal = CheckNonce(in, now)) return finish(tl::unexpected(*refusal));
  if (auto refusal = CheckAttestation(*policy, *attested, now)) {
    return finish(tl::unexpected(MakeRefusal(403, refusal->code, refusal->message,
                                             Json{{"tcb_status", attested->tcb_status}})));
  }
  auto wrapped = Wrap(in, *version);
  if (!wrapped) return finish(tl::unexpected(wrapped.error()));
  if (policy->allow_any_enclave) {
    spdlog::warn(
        "key '{}' released to MRENCLAVE {} under a policy that allows any enclave "
        "(allow_any_enclave); name the enclave in the key's policy",
        in.key_id, HexOf(attested->mrenclave));
  }
  Released out;
  out.key_id = in.key_id;
  out.version = version->version;
  out.wrap = std::move(*wrapped);
  out.certificate_pem = version->cert_chain_pem;
  out.kmra_certificate_chain = policy->kmra_certificate_chain;
  out.attestation = *attested;
  return finish(std::move(out));
}

// The HSM part: the private key is only ever wrapped, inside the HSM.
tl::expected<p11::ReleaseWrapResult, Refusal> ReleaseService::Wrap(
    const ReleaseInput& in, const store::KeyVersion& version) {
  p11::KeyName name{version.hsm_label, version.hsm_id};
  bool reconnect = false;
  auto wrapped = [&]() -> tl::expected<p11::ReleaseWrapResult, Refusal> {
    auto lease = hsm_.Acquire();
    if (!lease) {
      return tl::unexpected(MakeRefusal(503, "hsm.unavailable",
                                        "the HSM cannot be reached: " + lease.error().message()));
    }
    auto objects = key_handles_.Find(**lease, name);
    if (!objects) {
      // The registry names a key the token does not show. When the token still shows another
      // registered key, only this key's object is missing: refuse this key alone and leave the
      // sessions of every other release alone.
      if (OtherKeyVisible(**lease, in.key_id)) {
        return tl::unexpected(MakeRefusal(
            503, "hsm.key_missing",
            "key '" + in.key_id + "' v" + std::to_string(version.version) + " (" + name.Describe() +
                ") is not in the HSM token, which serves the other keys: " +
                objects.error().message() +
                "; restore the object from the HSM's backup, or rotate or delete the key"));
      }
      // Else the token is unavailable or was replaced. Reconnect (C_Finalize/C_Initialize) so a
      // token that comes back is seen again.
      reconnect = true;
      return tl::unexpected(MakeRefusal(
          503, "hsm.unavailable",
          "key '" + in.key_id + "' v" + std::to_string(version.version) + " (" + name.Describe() +
              ") is not available in the HSM token: " + objects.error().message() +
              "; the server reconnects to the HSM on the next request"));
    }
    auto result = p11::WrapForRelease(**lease, objects->private_key,
                                      p11::RsaPublicKey{in.modulus, in.exponent}, in.oaep);
    if (!result) {
      const Error& e = result.error();
      if (e.code() == Code::kInvalidArgument) {
        return tl::unexpected(MakeRefusal(400, "request.public_key", e.message()));
      }
      reconnect = e.code() == Code::kUnavailable;
      key_handles_.Forget(name);
      return tl::unexpected(
          MakeRefusal(503, "hsm.unavailable", "the HSM could not wrap the key: " + e.message()));
    }
    return std::move(*result);
  }();
  if (reconnect) hsm_.Reset();
  return wrapped;
}

bool ReleaseService::OtherKeyVisible(p11::Session& session, const std::string& key_id) {
  auto keys = store_.ListKeys();
  if (!keys) return false;
  // A few other keys decide: one found, the token works; all missing, treat the token as gone.
  int tried = 0;
  for (const auto& k : *keys) {
    const store::KeyVersion* v = k.newest();
    if (k.id == key_id || v == nullptr) continue;
    if (key_handles_.Find(session, {v->hsm_label, v->hsm_id})) return true;
    if (++tried == 3) break;
  }
  return false;
}

tl::expected<AttestationResult, Refusal> ReleaseService::Attest(const ReleaseInput& in) {
  AuditEntry entry = EntryFor(in, "attest");
  tl::expected<AttestationResult, Refusal> result = VerifyAndBind(in, &entry);
  if (result && !in.nonce.empty()) {
    if (auto refusal = CheckNonce(in, clock_.NowUnix())) result = tl::unexpected(*refusal);
  }
  if (result) {
    entry.verdict = "ok";
  } else {
    RecordRefusal(result.error(), &entry);
  }
  (void)audit_.Write(entry);
  return result;
}

}  // namespace kmra::server
