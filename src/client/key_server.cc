#include "client/key_server.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/base64.h"

namespace kmra::client {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxJsonDepth = 32;

// Parses a JSON object without exceptions, refusing deep nesting before building the DOM.
Result<Json> ParseObject(const std::string& body) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false, escape = false;
  for (char c : body) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  if (max_depth > kMaxJsonDepth) return InvalidArgument("the answer nests JSON too deeply");
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument(fmt::format("the answer is not a JSON object: {}",
                                       body.substr(0, 200)));
  }
  return j;
}

Result<std::string> StringField(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return InvalidArgument(fmt::format("the answer has no string field '{}'", name));
  }
  return it->get<std::string>();
}

Result<std::vector<uint8_t>> B64Field(const Json& j, const char* name) {
  KMRA_ASSIGN_OR_RETURN(std::string text, StringField(j, name));
  auto bytes = Base64Decode(text);
  if (!bytes) {
    return InvalidArgument(fmt::format("field '{}' of the answer is not base64: {}", name,
                                       bytes.error().message()));
  }
  return bytes;
}

std::string B64(std::span<const uint8_t> b) { return Base64Encode(b); }

Code CodeForStatus(long status) {
  switch (status) {
    case 400: return Code::kInvalidArgument;
    case 401: return Code::kUnauthenticated;
    case 403: return Code::kPermissionDenied;
    case 404: return Code::kNotFound;
    case 409: return Code::kFailedPrecondition;
    case 413:  // body too large
    case 429: return Code::kResourceExhausted;
    default: return status >= 500 ? Code::kUnavailable : Code::kInternal;
  }
}

}  // namespace

Result<Api> ParseApi(std::string_view text) {
  if (text == "kmra") return Api::kKmra;
  if (text == "v1") return Api::kV1;
  return InvalidArgument(fmt::format("--api must be 'kmra' (AppHSM API 0.2) or 'v1', got '{}'", text));
}

std::array<uint8_t, 32> MakeKmraNonce(std::span<const uint8_t, 28> random, int64_t now_unix) {
  std::array<uint8_t, 32> nonce{};
  std::copy(random.begin(), random.end(), nonce.begin());
  uint32_t t = static_cast<uint32_t>(now_unix);
  for (int i = 0; i < 4; ++i) nonce[28 + i] = static_cast<uint8_t>(t >> (8 * i));
  return nonce;
}

std::string KmraExportRequest(const std::string& key_id, const QuotedKey& key,
                              std::span<const uint8_t> nonce) {
  Json j = {{"HsmObject", {{"h_unique_id", key_id}}},
            {"SgxObject",
             {{"RsaPublicKey",
               {{"ExponentLen", key.exponent.size()},
                {"Exponent", B64(key.exponent)},
                {"ModulusLen", key.modulus.size()},
                {"Modulus", B64(key.modulus)}}},
              {"SgxQuote", B64(key.quote)},
              {"SgxQuoteNonce", B64(nonce)}}}};
  return j.dump();
}

std::string V1ReleaseRequest(const QuotedKey& key, std::span<const uint8_t> nonce) {
  Json j = {{"quote", B64(key.quote)},
            {"nonce", B64(nonce)},
            {"public_key", {{"modulus", B64(key.modulus)}, {"exponent", B64(key.exponent)}}},
            {"oaep", "sha256"}};
  return j.dump();
}

Result<ReleasedKey> ParseKmraExportResponse(const std::string& body) {
  KMRA_ASSIGN_OR_RETURN(Json j, ParseObject(body));
  ReleasedKey r;
  KMRA_ASSIGN_OR_RETURN(r.wrapped_swk, B64Field(j, "wrappedSWK"));
  KMRA_ASSIGN_OR_RETURN(r.wrapped_key, B64Field(j, "wrappedKey"));
  KMRA_ASSIGN_OR_RETURN(auto cert, B64Field(j, "certificate"));
  r.certificate_pem.assign(cert.begin(), cert.end());
  r.oaep = p11::OaepHash::kSha1;
  return r;
}

Result<ReleasedKey> ParseV1ReleaseResponse(const std::string& body) {
  KMRA_ASSIGN_OR_RETURN(Json j, ParseObject(body));
  ReleasedKey r;
  KMRA_ASSIGN_OR_RETURN(r.wrapped_swk, B64Field(j, "wrapped_swk"));
  KMRA_ASSIGN_OR_RETURN(r.wrapped_key, B64Field(j, "wrapped_key"));
  KMRA_ASSIGN_OR_RETURN(r.certificate_pem, StringField(j, "certificate_chain"));
  KMRA_ASSIGN_OR_RETURN(std::string oaep, StringField(j, "oaep_hash"));
  if (oaep == "sha1") {
    r.oaep = p11::OaepHash::kSha1;
  } else if (oaep == "sha256") {
    r.oaep = p11::OaepHash::kSha256;
  } else {
    return InvalidArgument(fmt::format("field 'oaep_hash' is '{}'; expected sha1 or sha256", oaep));
  }
  auto v = j.find("version");
  if (v != j.end() && v->is_number_integer()) r.version = v->get<int64_t>();
  return r;
}

Result<std::vector<uint8_t>> ParseV1NonceResponse(const std::string& body) {
  KMRA_ASSIGN_OR_RETURN(Json j, ParseObject(body));
  KMRA_ASSIGN_OR_RETURN(auto nonce, B64Field(j, "nonce"));
  if (nonce.size() != 32) {
    return InvalidArgument(fmt::format("the server nonce is {} bytes; the token's quote mechanism "
                                       "takes 32", nonce.size()));
  }
  return nonce;
}

Error ErrorFromResponse(const std::string& what, const HttpResponse& response) {
  std::string detail;
  Json j = Json::parse(response.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object()) {
    const Json& e = j["error"];
    std::string code = e.value("code", "");
    std::string message = e.value("message", "");
    detail = code.empty() ? message : code + ": " + message;
    if (e.contains("details") && !e["details"].empty()) detail += " (" + e["details"].dump() + ")";
  } else {
    detail = response.body.substr(0, 300);
  }
  return Error(CodeForStatus(response.status),
               fmt::format("{}: the key server answered HTTP {}: {}", what, response.status, detail));
}

Result<std::vector<uint8_t>> KeyServerClient::GetNonce() const {
  if (api_ != Api::kV1) return Unimplemented("the KMRA API has no server nonce; the client makes one");
  KMRA_ASSIGN_OR_RETURN(HttpResponse r, http_.Post("/v1/nonce", "{}"));
  if (r.status != 200) return tl::unexpected(ErrorFromResponse("asking for a nonce", r));
  return ParseV1NonceResponse(r.body);
}

Result<ReleasedKey> KeyServerClient::Release(const std::string& key_id, const QuotedKey& key,
                                             std::span<const uint8_t> nonce) const {
  std::string what = fmt::format("the release of key '{}' was refused", key_id);
  if (api_ == Api::kKmra) {
    KMRA_ASSIGN_OR_RETURN(HttpResponse r,
                          http_.Post("/sgx/keys/export", KmraExportRequest(key_id, key, nonce)));
    if (r.status != 200) return tl::unexpected(ErrorFromResponse(what, r));
    return ParseKmraExportResponse(r.body);
  }
  std::string path = "/v1/keys/";
  for (unsigned char c : key_id) {  // percent-encode the id for the path
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      path.push_back(static_cast<char>(c));
    } else {
      path += fmt::format("%{:02X}", c);
    }
  }
  KMRA_ASSIGN_OR_RETURN(HttpResponse r, http_.Post(path + "/release", V1ReleaseRequest(key, nonce)));
  if (r.status != 200) return tl::unexpected(ErrorFromResponse(what, r));
  return ParseV1ReleaseResponse(r.body);
}

}  // namespace kmra::client
