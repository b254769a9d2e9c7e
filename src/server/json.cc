#include "server/json.h"

#include <new>

namespace kmra::server {
namespace {

// Maximum nesting of the text, counting brackets outside strings. Stops early past `limit`.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) max_depth = depth;
      if (max_depth > limit) return max_depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

Status CheckJsonBounds(std::string_view text, std::size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes) {
    return ResourceExhausted("JSON body is " + std::to_string(text.size()) +
                             " bytes; the limit is " + std::to_string(max_bytes));
  }
  if (NestingDepth(text, max_depth) > max_depth) {
    return ResourceExhausted("JSON nesting is deeper than " + std::to_string(max_depth) +
                             " levels");
  }
  return OkStatus();
}

Result<Json> ParseJson(std::string_view text, std::size_t max_bytes, int max_depth) {
  KMRA_TRY(CheckJsonBounds(text, max_bytes, max_depth));
  try {
    Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      // Parse again through the throwing path only to learn where it broke, for the message.
      try {
        Json again = Json::parse(text);
        (void)again;
      } catch (const Json::parse_error& e) {
        return InvalidArgument("body is not valid JSON: syntax error at byte " +
                               std::to_string(e.byte));
      }
      return InvalidArgument("body is not valid JSON");
    }
    return value;
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory parsing JSON");
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("body is not valid JSON: ") + e.what());
  }
}

Result<Json> ParseJsonObject(std::string_view text, std::size_t max_bytes, int max_depth) {
  if (text.empty()) return InvalidArgument("request body is empty; a JSON object was expected");
  KMRA_ASSIGN_OR_RETURN(Json value, ParseJson(text, max_bytes, max_depth));
  if (!value.is_object()) {
    return InvalidArgument(std::string("body is JSON ") + value.type_name() +
                           ", a JSON object was expected");
  }
  return value;
}

std::string DumpJson(const Json& value, int indent) {
  try {
    return value.dump(indent, ' ', false, Json::error_handler_t::replace);
  } catch (...) {
    return "{}";
  }
}

Response JsonResponse(int status, const Json& body) {
  return Response{status, "application/json", DumpJson(body), {}};
}

Response ErrorResponse(int status, std::string_view code, std::string_view message, Json details) {
  Json body;
  body["error"]["code"] = std::string(code);
  body["error"]["message"] = std::string(message);
  body["error"]["details"] = details.is_null() ? Json::object() : std::move(details);
  return JsonResponse(status, body);
}

Response ErrorResponse(const Error& error, Json details) {
  return ErrorResponse(HttpStatusFor(error.code()), CodeName(error.code()), error.message(),
                       std::move(details));
}

std::string_view RequestErrorCode(const Error& error) {
  return error.code() == Code::kResourceExhausted ? "resource_exhausted" : "request.invalid";
}

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
      return 409;
    case Code::kResourceExhausted:
      return 413;
    case Code::kUnavailable:
      return 503;
    case Code::kDeadlineExceeded:
      return 504;
    case Code::kDataLoss:
      return 500;
    case Code::kUnimplemented:
      return 501;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

Result<std::string> GetString(const Json& object, std::string_view field) {
  auto it = object.find(field);
  if (it == object.end()) return InvalidArgument("field '" + std::string(field) + "' is missing");
  if (!it->is_string()) {
    return InvalidArgument("field '" + std::string(field) + "' is " + it->type_name() +
                           ", a string was expected");
  }
  return it->get<std::string>();
}

Result<std::string> GetOptionalString(const Json& object, std::string_view field,
                                      std::string fallback) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_string()) {
    return InvalidArgument("field '" + std::string(field) + "' is " + it->type_name() +
                           ", a string was expected");
  }
  return it->get<std::string>();
}

Result<std::int64_t> GetInt(const Json& object, std::string_view field) {
  auto it = object.find(field);
  if (it == object.end()) return InvalidArgument("field '" + std::string(field) + "' is missing");
  if (!it->is_number_integer()) {
    return InvalidArgument("field '" + std::string(field) + "' is " + it->type_name() +
                           ", an integer was expected");
  }
  return it->get<std::int64_t>();
}

}  // namespace kmra::server
