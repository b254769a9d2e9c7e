// JSON for the HTTP APIs: bounded, non-throwing parsing and the error envelope
// {"error":{"code","message","details"}} shared by every route.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/result.h"
#include "server/http.h"

namespace kmra::server {

using Json = nlohmann::json;

inline constexpr std::size_t kDefaultJsonMaxBytes = 1 << 20;
inline constexpr int kDefaultJsonMaxDepth = 32;

// The caps ParseJson applies before parsing: ResourceExhausted for a body over max_bytes or nesting
// deeper than max_depth (brackets inside strings do not count).
Status CheckJsonBounds(std::string_view text, std::size_t max_bytes = kDefaultJsonMaxBytes,
                       int max_depth = kDefaultJsonMaxDepth);

// Parses a request body. Refuses, before building any DOM, bodies over max_bytes and nesting deeper
// than max_depth (nlohmann's dump/copy recurse; nlohmann/json#5387). Never throws.
// Errors: InvalidArgument naming the problem (with the byte offset for syntax errors),
// ResourceExhausted for the caps.
Result<Json> ParseJson(std::string_view text, std::size_t max_bytes = kDefaultJsonMaxBytes,
                       int max_depth = kDefaultJsonMaxDepth);

// Parses a request body that must be a JSON object.
Result<Json> ParseJsonObject(std::string_view text, std::size_t max_bytes = kDefaultJsonMaxBytes,
                             int max_depth = kDefaultJsonMaxDepth);

// Serialises without throwing (invalid UTF-8 is replaced, not fatal).
std::string DumpJson(const Json& value, int indent = -1);

// A response with a JSON body.
Response JsonResponse(int status, const Json& body);

// {"error":{"code":code,"message":message,"details":details}} with the given HTTP status.
Response ErrorResponse(int status, std::string_view code, std::string_view message,
                       Json details = Json::object());

// Maps an Error to a response: the HTTP status follows the Code, the JSON code is CodeName().
Response ErrorResponse(const Error& error, Json details = Json::object());

// The JSON error code for a request body that could not be read: "resource_exhausted" for the caps
// (size, nesting; docs/api.md), "request.invalid" for everything else.
std::string_view RequestErrorCode(const Error& error);

// HTTP status for an error code (kInvalidArgument -> 400, kUnavailable -> 503, ...).
int HttpStatusFor(Code code);

// Typed field access for request bodies; errors name the field and what was expected.
Result<std::string> GetString(const Json& object, std::string_view field);
Result<std::string> GetOptionalString(const Json& object, std::string_view field,
                                      std::string fallback = {});
Result<std::int64_t> GetInt(const Json& object, std::string_view field);

}  // namespace kmra::server
