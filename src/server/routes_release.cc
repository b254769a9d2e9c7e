// The release routes: KMRA AppHSM API 0.2 (/sys/version, /sgx/attest, /sgx/keys/export) and /v1
// (/v1/nonce, /v1/keys/{id}/release). Field names of the KMRA API are byte-compatible with KMRA
// (ARCHITECTURE.md "Interfaces on the wire").
#include "base/base64.h"
#include "base/clock.h"
#include "base/hex.h"
#include "server/json.h"
#include "server/service.h"

namespace kmra::server {
namespace {

Result<std::vector<std::uint8_t>> B64Field(const Json& object, std::string_view field) {
  KMRA_ASSIGN_OR_RETURN(std::string text, GetString(object, field));
  auto bytes = Base64Decode(text);
  if (!bytes) {
    return InvalidArgument("field '" + std::string(field) +
                           "' is not standard base64: " + bytes.error().message());
  }
  return bytes;
}

Result<const Json*> Object(const Json& parent, std::string_view field) {
  auto it = parent.find(field);
  if (it == parent.end()) return InvalidArgument("field '" + std::string(field) + "' is missing");
  if (!it->is_object())
    return InvalidArgument("field '" + std::string(field) + "' must be an object");
  return &*it;
}

// Reads the KMRA request body into a ReleaseInput (key, public key, quote, nonce).
Status ParseKmraBody(const std::string& body, ReleaseInput* in) {
  KMRA_ASSIGN_OR_RETURN(Json j, ParseJsonObject(body));
  KMRA_ASSIGN_OR_RETURN(const Json* hsm, Object(j, "HsmObject"));
  if (hsm->contains("h_unique_id")) {
    const Json& id = (*hsm)["h_unique_id"];
    if (id.is_string()) {
      in->key_id = id.get<std::string>();
    } else if (id.is_number_integer()) {
      in->key_id = std::to_string(id.get<std::int64_t>());
    } else {
      return InvalidArgument("field 'HsmObject.h_unique_id' must be a string");
    }
  } else {
    return InvalidArgument("field 'HsmObject.h_unique_id' is missing");
  }
  KMRA_ASSIGN_OR_RETURN(const Json* sgx, Object(j, "SgxObject"));
  KMRA_ASSIGN_OR_RETURN(const Json* rsa, Object(*sgx, "RsaPublicKey"));
  KMRA_ASSIGN_OR_RETURN(in->exponent, B64Field(*rsa, "Exponent"));
  KMRA_ASSIGN_OR_RETURN(in->modulus, B64Field(*rsa, "Modulus"));
  KMRA_ASSIGN_OR_RETURN(auto exponent_len, GetInt(*rsa, "ExponentLen"));
  KMRA_ASSIGN_OR_RETURN(auto modulus_len, GetInt(*rsa, "ModulusLen"));
  if (exponent_len != static_cast<std::int64_t>(in->exponent.size())) {
    return InvalidArgument("ExponentLen is " + std::to_string(exponent_len) +
                           " but Exponent holds " + std::to_string(in->exponent.size()) + " bytes");
  }
  if (modulus_len != static_cast<std::int64_t>(in->modulus.size())) {
    return InvalidArgument("ModulusLen is " + std::to_string(modulus_len) + " but Modulus holds " +
                           std::to_string(in->modulus.size()) + " bytes");
  }
  KMRA_ASSIGN_OR_RETURN(in->quote, B64Field(*sgx, "SgxQuote"));
  KMRA_ASSIGN_OR_RETURN(in->nonce, B64Field(*sgx, "SgxQuoteNonce"));
  return OkStatus();
}

Response RefusalResponse(const Refusal& r) {
  Response res = ErrorResponse(r.status, r.code, r.message, r.details);
  if (r.retry_after > 0) res.headers.emplace_back("Retry-After", std::to_string(r.retry_after));
  return res;
}

// The first certificate of a PEM chain (the leaf, stored first), with its END line.
std::string LeafPem(const std::string& chain) {
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  const size_t end = chain.find(kEnd);
  if (end == std::string::npos) return chain;
  return chain.substr(0, end + kEnd.size()) + "\n";
}

Json AttestationJson(const AttestationResult& a) {
  return Json{{"tcb_status", a.tcb_status},
              {"advisory_ids", a.advisory_ids},
              {"mrenclave", HexEncode(a.mrenclave)},
              {"mrsigner", HexEncode(a.mrsigner)},
              {"isv_prod_id", a.isv_prod_id},
              {"isv_svn", a.isv_svn},
              {"debug", a.debug},
              {"fmspc", a.fmspc},
              {"simulated_root", a.simulated_root}};
}

}  // namespace

void Service::AddKmraRoutes() {
  Add("GET", "/sys/version", Role::kClient, [](Request&, const PathParams&) {
    // trusted-attestation-controller reads "version"; "server_version" is kept for our clients.
    return JsonResponse(200, Json{{"api_version", "0.2"},
                                  {"version", KMRA_VERSION},
                                  {"server", "OpenKMRA"},
                                  {"server_version", KMRA_VERSION}});
  });

  Add("POST", "/sgx/attest", Role::kClient, [this](Request& req, const PathParams&) {
    ReleaseInput in;
    in.api = "kmra";
    in.client_id = req.client.organizational_unit;
    in.remote = req.remote_address;
    if (auto parsed = ParseKmraBody(req.body, &in); !parsed) {
      return ErrorResponse(HttpStatusFor(parsed.error().code()), RequestErrorCode(parsed.error()),
                           parsed.error().message());
    }
    auto result = release_->Attest(in);
    if (!result) {
      if (result.error().status >= 500 || result.error().status == 400) {
        return RefusalResponse(result.error());
      }
      // KMRA answers a failed attestation with verified=false; we add the reason.
      Json body{{"verified", false},
                {"error",
                 {{"code", result.error().code},
                  {"message", result.error().message},
                  {"details", result.error().details}}}};
      return JsonResponse(200, body);
    }
    Json body = AttestationJson(*result);
    body["verified"] = true;
    return JsonResponse(200, body);
  });

  Add("POST", "/sgx/keys/export", Role::kClient, [this](Request& req, const PathParams&) {
    ReleaseInput in;
    in.api = "kmra";
    in.client_id = req.client.organizational_unit;
    in.remote = req.remote_address;
    in.oaep = p11::OaepChoice::kSha1;  // what KMRA clients unwrap with
    in.server_nonce = false;           // KMRA client nonce: 28 random bytes || LE unix time
    if (auto parsed = ParseKmraBody(req.body, &in); !parsed) {
      return ErrorResponse(HttpStatusFor(parsed.error().code()), RequestErrorCode(parsed.error()),
                           parsed.error().message());
    }
    auto released = release_->Release(in);
    if (!released) return RefusalResponse(released.error());
    // KMRA answers with its certificate_file, one certificate: trusted-certificate-issuer decodes
    // exactly one PEM block. The chain only when the key's policy asks for it.
    const std::string& chain = released->certificate_pem;
    return JsonResponse(
        200, Json{{"wrappedSWK", B64(released->wrap.wrapped_swk)},
                  {"wrappedKey", B64(released->wrap.wrapped_key)},
                  {"certificate", B64(released->kmra_certificate_chain ? chain : LeafPem(chain))}});
  });
}

void Service::AddV1Routes() {
  Add("POST", "/v1/nonce", Role::kClient, [this](Request& req, const PathParams&) {
    auto nonce = release_->IssueNonce(req.client.organizational_unit);
    if (!nonce) return RefusalResponse(nonce.error());
    return JsonResponse(200, Json{{"nonce", B64(nonce->nonce)},
                                  {"expires_at", nonce->expires_at},
                                  {"expires", FormatRfc3339(nonce->expires_at)}});
  });

  Add("POST", "/v1/keys/{id}/release", Role::kClient, [this](Request& req, const PathParams& p) {
    ReleaseInput in;
    in.api = "v1";
    in.client_id = req.client.organizational_unit;
    in.remote = req.remote_address;
    in.server_nonce = true;
    in.oaep = p11::OaepChoice::kSha256ElseSha1;
    auto parse = [&]() -> Status {
      KMRA_ASSIGN_OR_RETURN(in.key_id, KeyIdParam(p));
      KMRA_ASSIGN_OR_RETURN(Json j, ParseJsonObject(req.body));
      KMRA_ASSIGN_OR_RETURN(in.quote, B64Field(j, "quote"));
      KMRA_ASSIGN_OR_RETURN(in.nonce, B64Field(j, "nonce"));
      KMRA_ASSIGN_OR_RETURN(const Json* pub, Object(j, "public_key"));
      if (pub->contains("spki")) {
        KMRA_ASSIGN_OR_RETURN(auto spki, B64Field(*pub, "spki"));
        KMRA_ASSIGN_OR_RETURN(auto rsa, p11::RsaPublicKeyFromSpki(spki));
        in.modulus = std::move(rsa.modulus);
        in.exponent = std::move(rsa.exponent);
      } else {
        KMRA_ASSIGN_OR_RETURN(in.modulus, B64Field(*pub, "modulus"));
        KMRA_ASSIGN_OR_RETURN(in.exponent, B64Field(*pub, "exponent"));
      }
      KMRA_ASSIGN_OR_RETURN(std::string oaep, GetOptionalString(j, "oaep", "sha256"));
      if (oaep == "sha1") {
        in.oaep = p11::OaepChoice::kSha1;
      } else if (oaep == "sha256") {
        in.oaep = p11::OaepChoice::kSha256ElseSha1;
      } else if (oaep == "sha256-only") {
        in.oaep = p11::OaepChoice::kSha256;
      } else {
        return InvalidArgument("field 'oaep' must be \"sha256\", \"sha256-only\" or \"sha1\"");
      }
      return OkStatus();
    };
    if (auto parsed = parse(); !parsed) {
      return ErrorResponse(HttpStatusFor(parsed.error().code()), RequestErrorCode(parsed.error()),
                           parsed.error().message());
    }
    auto released = release_->Release(in);
    if (!released) return RefusalResponse(released.error());
    return JsonResponse(200, Json{{"key_id", released->key_id},
                                  {"version", released->version},
                                  {"wrapped_swk", B64(released->wrap.wrapped_swk)},
                                  {"wrapped_key", B64(released->wrap.wrapped_key)},
                                  {"swk_mechanism", released->wrap.swk_mechanism},
                                  {"key_mechanism", released->wrap.key_mechanism},
                                  {"oaep_hash", p11::OaepHashName(released->wrap.oaep_hash)},
                                  {"certificate_chain", released->certificate_pem},
                                  {"attestation", AttestationJson(released->attestation)}});
  });
}

}  // namespace kmra::server
