// The admin API (admin client certificate): keys (generate in the HSM or import, list, show,
// delete, rotate), policies, CSRs signed inside the HSM, certificate attachment, and the audit log.
#include <openssl/pem.h>
#include <spdlog/spdlog.h>

#include "base/hex.h"
#include "crypto/ossl.h"
#include "p11/csr.h"
#include "p11/keys.h"
#include "server/json.h"
#include "server/json_secret.h"
#include "server/service.h"

namespace kmra::server {
namespace {

// Overwrites a string's bytes (a private key PEM in a request body or parsed JSON) before it is
// freed.
void Wipe(std::string& s) {
  if (!s.empty()) SecureWipe(s.data(), s.size());
  s.clear();
}

// Removes a version's objects from the HSM (undoing a creation that could not be registered).
void DeleteHsmObjects(p11::SessionPool& hsm, const store::KeyVersion& v) {
  auto lease = hsm.Acquire();
  if (!lease) return;
  if (auto deleted = p11::DeleteKey(**lease, {v.hsm_label, v.hsm_id}); !deleted) {
    spdlog::error("HSM objects of '{}' could not be removed: {}", v.hsm_label,
                  deleted.error().ToString());
  }
}

std::string HsmLabel(const std::string& id, int version) {
  return "kmra:" + id + ":v" + std::to_string(version);
}

// The SubjectPublicKeyInfo (DER) of the first certificate in a PEM chain.
Result<std::vector<std::uint8_t>> LeafSpki(const std::string& chain_pem) {
  auto bio = ossl::Wrap(BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size())));
  auto cert = ossl::Wrap(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return ossl::Fail(Code::kInvalidArgument, "certificate chain is not PEM X.509");
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  if (!pub) return ossl::Fail(Code::kInvalidArgument, "certificate has no usable public key");
  int len = i2d_PUBKEY(pub, nullptr);
  if (len <= 0) return ossl::Fail(Code::kInvalidArgument, "certificate public key");
  std::vector<std::uint8_t> der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  i2d_PUBKEY(pub, &p);
  return der;
}

Json VersionJson(const store::KeyVersion& v) {
  return Json{{"version", v.version},
              {"hsm_label", v.hsm_label},
              {"hsm_id", HexEncode(v.hsm_id)},
              {"type", v.key_type},
              {"origin", v.origin},
              {"certificate_chain", v.cert_chain_pem},
              {"created_at", v.created_at}};
}

// What the key's release policy allows, in one word for `kmra keys list`: "enclave" (names
// MRENCLAVE/MRSIGNER), "any_enclave" (allow_any_enclave: released to any enclave that passes the
// other checks), "missing" (never released), "invalid".
std::string PolicyState(const Result<Policy>& policy) {
  if (!policy) return policy.error().code() == Code::kNotFound ? "missing" : "invalid";
  if (policy->allow_any_enclave) return "any_enclave";
  return policy->NamesEnclave() ? "enclave" : "missing";
}

Json KeyJson(const store::KeyRecord& k, bool all_versions, const Result<Policy>& policy) {
  Json j{{"id", k.id},
         {"description", k.description},
         {"created_at", k.created_at},
         {"release_policy", PolicyState(policy)}};
  if (const auto* newest = k.newest()) {
    j["version"] = newest->version;
    j["type"] = newest->key_type;
    j["origin"] = newest->origin;
    j["has_certificate"] = !newest->cert_chain_pem.empty();
  }
  if (all_versions) {
    j["versions"] = Json::array();
    for (const auto& v : k.versions) j["versions"].push_back(VersionJson(v));
  }
  return j;
}

Response Err(const Error& e) { return ErrorResponse(e); }

// The audit record of an admin change by the client of `req`, before its outcome is known.
AuditEntry AdminEntry(std::string action, const Request& req, std::string key_id = {}) {
  return AuditEntry{.action = std::move(action),
                    .api = "admin",
                    .client = req.client.organizational_unit,
                    .remote = req.remote_address,
                    .key_id = std::move(key_id)};
}

// Records the outcome of an admin change and answers it. A failed change is answered with its error
// (nothing was changed; a record that cannot be written is logged by the writer). A change that was
// made but whose record cannot be written is not answered as a success: 503 audit.unavailable says
// the change stands without its record, so the operator neither repeats it nor takes it for undone.
template <class Outcome, class Answer>
Response Audited(AuditWriter& audit, AuditEntry& entry, const Outcome& outcome,
                 const Answer& answer) {
  entry.verdict = outcome ? "ok" : "error";
  if (!outcome) {
    entry.detail = outcome.error().message();
    (void)audit.Write(entry);
    return Err(outcome.error());
  }
  if (auto written = audit.Write(entry); !written) {
    spdlog::error("admin change made without an audit record: {} key={} v{} client={} remote={}",
                  entry.action, entry.key_id, entry.key_version, entry.client, entry.remote);
    return ErrorResponse(
        503, "audit.unavailable",
        entry.action + " of key '" + entry.key_id +
            "' was made, but its audit record could not be written (" + written.error().message() +
            "): the change stands and is not in the audit log; do not repeat it, check it with "
            "`kmra keys show`",
        Json{{"changed", true},
             {"action", entry.action},
             {"key_id", entry.key_id},
             {"key_version", entry.key_version}});
  }
  return answer(outcome);
}

}  // namespace

// Reads an admin request body that may import a key: the PEM is taken out of the text before the
// JSON parser sees it (json_secret.h), and the body is wiped whatever happens.
static Result<Json> ParseKeyBody(std::string& text, std::optional<SecretBytes>* pem) {
  // The caps first, so an over-large or over-deep body is refused as on every other route (413).
  auto bounded = CheckJsonBounds(text);
  auto secret = bounded ? TakeSecretMember(text, "private_key_pem")
                        : Result<std::optional<SecretBytes>>(tl::unexpected(bounded.error()));
  auto parsed = secret ? ParseJsonObject(text) : Result<Json>(tl::unexpected(secret.error()));
  Wipe(text);
  KMRA_ASSIGN_OR_RETURN(Json body, std::move(parsed));
  *pem = std::move(*secret);
  body.erase("private_key_pem");
  return body;
}

// Creates one key version in the HSM (generated, or imported from `pem`), checking a given
// certificate against it.
static Result<store::KeyVersion> MakeVersion(p11::SessionPool& hsm, const std::string& id,
                                             int version, const Json& body,
                                             const std::string& default_type,
                                             const std::optional<SecretBytes>& pem) {
  KMRA_ASSIGN_OR_RETURN(std::string type, GetOptionalString(body, "type", default_type));
  KMRA_ASSIGN_OR_RETURN(std::string chain, GetOptionalString(body, "certificate_pem"));
  auto lease = hsm.Acquire();
  if (!lease) return tl::unexpected(lease.error().WithContext("HSM"));
  p11::KeyName name{HsmLabel(id, version), {}};
  p11::KeyObjects objects;
  store::KeyVersion v;
  if (pem && !pem->empty()) {
    KMRA_ASSIGN_OR_RETURN(objects, p11::ImportPrivateKeyPem(**lease, pem->RevealAsString(), name));
    v.origin = "imported";
  } else {
    KMRA_ASSIGN_OR_RETURN(auto spec, p11::KeySpec::Parse(type));
    KMRA_ASSIGN_OR_RETURN(objects, p11::GenerateKeyPair(**lease, spec, name));
    v.origin = "generated";
    type = spec.ToString();
  }
  auto cleanup = [&]() { (void)p11::DeleteKey(**lease, objects.name); };
  auto spki = p11::PublicKeySpki(**lease, objects);
  if (!spki) {
    cleanup();
    return tl::unexpected(spki.error());
  }
  if (v.origin == "imported") {
    // The type of an imported key follows from the key itself.
    auto pkey = p11::PublicKey(**lease, objects);
    if (pkey) {
      int bits = EVP_PKEY_get_bits(pkey->get());
      type = EVP_PKEY_get_base_id(pkey->get()) == EVP_PKEY_RSA ? "rsa-" + std::to_string(bits)
                                                               : "ec-p" + std::to_string(bits);
    }
  }
  if (!chain.empty()) {
    auto leaf = LeafSpki(chain);
    if (!leaf || *leaf != *spki) {
      cleanup();
      return InvalidArgument(leaf ? "the certificate's public key is not the key's public key"
                                  : leaf.error().message());
    }
  }
  v.hsm_label = objects.name.label;
  v.hsm_id = objects.name.id;
  v.key_type = type;
  v.cert_chain_pem = chain;
  return v;
}

void Service::AddAdminRoutes() {
  Add("POST", "/v1/keys", Role::kAdmin, [this](Request& req, const PathParams&) {
    AuditEntry entry = AdminEntry("key.create", req);
    auto run = [&]() -> Result<Json> {
      std::optional<SecretBytes> pem;
      KMRA_ASSIGN_OR_RETURN(Json body, ParseKeyBody(req.body, &pem));
      KMRA_ASSIGN_OR_RETURN(std::string id, GetString(body, "id"));
      entry.key_id = id;
      KMRA_TRY(store::ValidateKeyId(id));
      KMRA_ASSIGN_OR_RETURN(std::string description, GetOptionalString(body, "description"));
      // Deny by default: a key is created with the policy that says which enclave may have it.
      if (!body.contains("policy")) {
        return InvalidArgument("field 'policy' is missing: a key needs a release policy that " +
                               PolicyHowTo());
      }
      KMRA_ASSIGN_OR_RETURN(Policy policy, ParsePolicy(DumpJson(body["policy"])));
      const std::string policy_json = policy.ToJson();
      // Atomic: the id is reserved in the store first, so of two concurrent creations only one
      // makes HSM objects; any later failure removes what was made (HSM objects and registry).
      const std::int64_t now = deps_.clock->NowUnix();
      if (auto reserved = deps_.store->CreateKey({id, description, now}); !reserved) {
        if (reserved.error().code() != Code::kAlreadyExists) {
          return tl::unexpected(reserved.error());
        }
        return AlreadyExists("key '" + id + "' exists; rotate it or delete it first");
      }
      auto made = [&]() -> Result<Json> {
        KMRA_TRY(deps_.store->PutPolicy({id, policy_json, now}));
        KMRA_ASSIGN_OR_RETURN(store::KeyVersion v,
                              MakeVersion(*deps_.hsm, id, 1, body, "rsa-3072", pem));
        v.created_at = now;
        auto version = deps_.store->AddKeyVersion(id, v);
        if (!version) {
          DeleteHsmObjects(*deps_.hsm, v);
          return tl::unexpected(version.error());
        }
        entry.key_version = *version;
        KMRA_ASSIGN_OR_RETURN(auto record, deps_.store->GetKey(id));
        return KeyJson(record, true, policy);
      }();
      if (!made) (void)deps_.store->DeleteKey(id);
      return made;
    };
    return Audited(audit_, entry, run(), [](const auto& made) { return JsonResponse(201, *made); });
  });

  Add("GET", "/v1/keys", Role::kAdmin, [this](Request&, const PathParams&) {
    auto keys = deps_.store->ListKeys();
    if (!keys) return Err(keys.error());
    Json list = Json::array();
    for (const auto& k : *keys) list.push_back(KeyJson(k, false, release_->PolicyFor(k.id)));
    return JsonResponse(200, Json{{"keys", list}});
  });

  // The key named in the path, and the policy that applies to it (its own or the default).
  struct NamedKey {
    store::KeyRecord key;
    Result<Policy> policy;
  };
  auto named_key = [this](const PathParams& p) -> Result<NamedKey> {
    KMRA_ASSIGN_OR_RETURN(std::string id, KeyIdParam(p));
    KMRA_ASSIGN_OR_RETURN(store::KeyRecord key, deps_.store->GetKey(id));
    return NamedKey{std::move(key), release_->PolicyFor(id)};
  };

  Add("GET", "/v1/keys/{id}", Role::kAdmin, [named_key](Request&, const PathParams& p) {
    auto named = named_key(p);
    if (!named) return Err(named.error());
    const auto& [key, policy] = *named;
    Json j = KeyJson(key, true, policy);
    j["policy"] = policy ? Json::parse(policy->ToJson(), nullptr, false) : Json(nullptr);
    return JsonResponse(200, j);
  });

  Add("DELETE", "/v1/keys/{id}", Role::kAdmin, [this](Request& req, const PathParams& p) {
    AuditEntry entry = AdminEntry("key.delete", req, p.at("id"));
    auto run = [&]() -> Status {
      KMRA_ASSIGN_OR_RETURN(entry.key_id, KeyIdParam(p));
      KMRA_ASSIGN_OR_RETURN(auto key, deps_.store->GetKey(entry.key_id));
      KMRA_ASSIGN_OR_RETURN(auto lease, deps_.hsm->Acquire());
      for (const auto& v : key.versions) {
        auto deleted = p11::DeleteKey(*lease, {v.hsm_label, v.hsm_id});
        if (!deleted && deleted.error().code() != Code::kNotFound) return deleted;
      }
      return deps_.store->DeleteKey(key.id);
    };
    return Audited(audit_, entry, run(), [](const Status&) {
      return Response{204, "application/json", "", {}};
    });
  });

  Add("POST", "/v1/keys/{id}/rotate", Role::kAdmin, [this](Request& req, const PathParams& p) {
    AuditEntry entry = AdminEntry("key.rotate", req, p.at("id"));
    auto run = [&]() -> Result<Json> {
      Json body = Json::object();
      std::optional<SecretBytes> pem;
      if (!req.body.empty()) {
        KMRA_ASSIGN_OR_RETURN(body, ParseKeyBody(req.body, &pem));
      }
      KMRA_ASSIGN_OR_RETURN(entry.key_id, KeyIdParam(p));
      KMRA_ASSIGN_OR_RETURN(auto key, deps_.store->GetKey(entry.key_id));
      const auto* newest = key.newest();
      int next = newest ? newest->version + 1 : 1;
      std::string type = newest ? newest->key_type : "rsa-3072";
      KMRA_ASSIGN_OR_RETURN(store::KeyVersion v,
                            MakeVersion(*deps_.hsm, key.id, next, body, type, pem));
      v.created_at = deps_.clock->NowUnix();
      KMRA_ASSIGN_OR_RETURN(int version, deps_.store->AddKeyVersion(key.id, v));
      entry.key_version = version;
      KMRA_ASSIGN_OR_RETURN(auto record, deps_.store->GetKey(key.id));
      return KeyJson(record, true, release_->PolicyFor(key.id));
    };
    return Audited(audit_, entry, run(), [](const auto& made) { return JsonResponse(200, *made); });
  });

  Add("PUT", "/v1/keys/{id}/policy", Role::kAdmin, [this](Request& req, const PathParams& p) {
    AuditEntry entry = AdminEntry("policy.set", req, p.at("id"));
    auto run = [&]() -> Result<Json> {
      KMRA_ASSIGN_OR_RETURN(entry.key_id, KeyIdParam(p));
      KMRA_ASSIGN_OR_RETURN(Policy policy, ParsePolicy(req.body));
      KMRA_ASSIGN_OR_RETURN(auto key, deps_.store->GetKey(entry.key_id));
      std::string canonical = policy.ToJson();
      KMRA_TRY(deps_.store->PutPolicy({key.id, canonical, deps_.clock->NowUnix()}));
      entry.detail = canonical;
      return Json::parse(canonical, nullptr, false);
    };
    return Audited(audit_, entry, run(), [&](const Result<Json>& policy) {
      return JsonResponse(200, Json{{"key_id", entry.key_id}, {"policy", *policy}});
    });
  });

  Add("GET", "/v1/keys/{id}/policy", Role::kAdmin, [named_key](Request&, const PathParams& p) {
    auto named = named_key(p);
    if (!named) return Err(named.error());
    const auto& [key, policy] = *named;
    if (!policy) return Err(policy.error());
    return JsonResponse(200, Json{{"key_id", key.id},
                                  {"release_policy", PolicyState(policy)},
                                  {"policy", Json::parse(policy->ToJson(), nullptr, false)}});
  });

  Add("POST", "/v1/keys/{id}/csr", Role::kAdmin, [this](Request& req, const PathParams& p) {
    auto run = [&]() -> Result<Json> {
      KMRA_ASSIGN_OR_RETURN(Json body, ParseJsonObject(req.body));
      p11::CsrRequest csr;
      KMRA_ASSIGN_OR_RETURN(csr.subject, GetString(body, "subject"));
      for (const char* field : {"dns_names", "ip_addresses"}) {
        if (!body.contains(field)) continue;
        if (!body[field].is_array()) {
          return InvalidArgument(std::string("field '") + field + "' must be a list of strings");
        }
        for (const auto& v : body[field]) {
          if (!v.is_string()) {
            return InvalidArgument(std::string("field '") + field + "' must be a list of strings");
          }
          (std::string(field) == "dns_names" ? csr.dns_names : csr.ip_addresses)
              .push_back(v.get<std::string>());
        }
      }
      KMRA_ASSIGN_OR_RETURN(std::string id, KeyIdParam(p));
      KMRA_ASSIGN_OR_RETURN(auto key, deps_.store->GetKey(id));
      const auto* v = key.newest();
      if (!v) return FailedPrecondition("key '" + key.id + "' has no version");
      KMRA_ASSIGN_OR_RETURN(auto lease, deps_.hsm->Acquire());
      KMRA_ASSIGN_OR_RETURN(auto objects, p11::FindKey(*lease, {v->hsm_label, v->hsm_id}));
      KMRA_ASSIGN_OR_RETURN(std::string pem, p11::SignCsr(*lease, objects, csr));
      return Json{{"key_id", key.id}, {"version", v->version}, {"csr", pem}};
    };
    auto result = run();
    return result ? JsonResponse(200, *result) : Err(result.error());
  });

  Add("PUT", "/v1/keys/{id}/certificate", Role::kAdmin, [this](Request& req, const PathParams& p) {
    AuditEntry entry = AdminEntry("key.certificate", req, p.at("id"));
    auto run = [&]() -> Result<Json> {
      KMRA_ASSIGN_OR_RETURN(Json body, ParseJsonObject(req.body));
      KMRA_ASSIGN_OR_RETURN(std::string chain, GetString(body, "certificate_pem"));
      KMRA_ASSIGN_OR_RETURN(entry.key_id, KeyIdParam(p));
      KMRA_ASSIGN_OR_RETURN(auto key, deps_.store->GetKey(entry.key_id));
      const auto* v = key.newest();
      if (!v) return FailedPrecondition("key '" + key.id + "' has no version");
      entry.key_version = v->version;
      KMRA_ASSIGN_OR_RETURN(auto leaf, LeafSpki(chain));
      KMRA_ASSIGN_OR_RETURN(auto lease, deps_.hsm->Acquire());
      KMRA_ASSIGN_OR_RETURN(auto objects, p11::FindKey(*lease, {v->hsm_label, v->hsm_id}));
      KMRA_ASSIGN_OR_RETURN(auto spki, p11::PublicKeySpki(*lease, objects));
      if (leaf != spki) {
        return InvalidArgument("the certificate's public key is not the public key of key '" +
                               key.id + "' v" + std::to_string(v->version) +
                               " in the HSM; was the CSR made for another key?");
      }
      KMRA_TRY(deps_.store->SetCertificateChain(key.id, v->version, chain));
      return Json{{"key_id", key.id}, {"version", v->version}, {"has_certificate", true}};
    };
    return Audited(audit_, entry, run(), [](const auto& made) { return JsonResponse(200, *made); });
  });

  Add("GET", "/v1/audit", Role::kAdmin, [this](Request& req, const PathParams&) {
    store::AuditQuery q;
    std::string after = req.QueryParam("after");
    std::string limit = req.QueryParam("limit");
    std::string since = req.QueryParam("since");
    char* end = nullptr;
    if (!after.empty()) q.after_seq = std::strtoll(after.c_str(), &end, 10);
    if (!since.empty()) q.since_time = std::strtoll(since.c_str(), &end, 10);
    if (!limit.empty()) q.limit = std::min<size_t>(1000, std::strtoull(limit.c_str(), &end, 10));
    auto records = deps_.store->ListAudit(q);
    if (!records) return Err(records.error());
    Json list = Json::array();
    for (const auto& r : *records) {
      Json record = Json::parse(r.json, nullptr, false);
      if (record.is_discarded()) record = r.json;
      list.push_back(Json{{"seq", r.seq},
                          {"time", r.time},
                          {"record", record},
                          {"prev_hash", r.prev_hash},
                          {"hash", r.hash}});
    }
    return JsonResponse(200, Json{{"records", list}});
  });

  // Off the I/O threads (audit_verifier.h): the answer is deferred until the verification that
  // starts after this request ends. Callers that ask meanwhile share it ("run" says which).
  Add("GET", "/v1/audit/verify", Role::kAdmin, [this](Request&, const PathParams&) {
    auto deferred = std::make_shared<Deferred>();
    verifier_.Verify([deferred](const Result<store::ChainVerdict>& verdict, std::uint64_t run) {
      if (!verdict) return deferred->Complete(Err(verdict.error()));
      deferred->Complete(
          JsonResponse(verdict->intact ? 200 : 409, Json{{"intact", verdict->intact},
                                                         {"records", verdict->records},
                                                         {"first_bad_seq", verdict->first_bad_seq},
                                                         {"problem", verdict->problem},
                                                         {"run", run}}));
    });
    Response later;
    later.deferred = std::move(deferred);
    return later;
  });
}

}  // namespace kmra::server
