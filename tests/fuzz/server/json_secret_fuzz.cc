// TakeSecretMember (server/json_secret.h) against nlohmann's parser, which it runs in front of on
// the admin key-import routes. For any body:
// - it never crashes, and on error leaves the body as it was;
// - if nlohmann accepts the body as an object with one top-level "private_key_pem" string, the
//   member is found and decodes to exactly nlohmann's string (escapes, \u, surrogate pairs);
// - if nlohmann accepts the body and the member is absent or not a string, nothing is taken;
// - after a take, nlohmann reads the same object with the member's value replaced by 0.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "server/json_secret.h"

namespace {

using Json = nlohmann::json;

void Check(bool ok) {
  if (!ok) std::abort();
}

// nlohmann's view of the body, or discarded; `duplicate` when the member name occurs twice at the
// top level (nlohmann keeps the last one; TakeSecretMember refuses).
Json Parse(const std::string& text, bool* duplicate) {
  int seen = 0;
  Json parsed = Json::parse(
      text,
      [&](int depth, Json::parse_event_t event, Json& value) {
        if (depth == 1 && event == Json::parse_event_t::key && value == "private_key_pem") ++seen;
        return true;
      },
      false);
  *duplicate = seen > 1;
  return parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string original(reinterpret_cast<const char*>(data), size);
  std::string body = original;
  auto taken = kmra::server::TakeSecretMember(body, "private_key_pem");
  bool duplicate = false;
  Json reference = Parse(original, &duplicate);
  // nlohmann takes a NUL byte between tokens for the end of the input ("{}\0junk" parses); the
  // extraction refuses it, which is stricter, so such bodies are only checked not to crash.
  const bool is_object = !reference.is_discarded() && reference.is_object() &&
                         original.find('\0') == std::string::npos;
  if (!taken) {
    Check(body == original);
    if (is_object) {
      // The only refusals of a body nlohmann accepts: a repeated or non-string member.
      auto it = reference.find("private_key_pem");
      Check(duplicate || (it != reference.end() && !it->is_string()));
    }
    return 0;
  }
  Check(body.size() == original.size());
  if (!is_object) return 0;  // e.g. invalid UTF-8, which nlohmann refuses later on the route
  auto it = reference.find("private_key_pem");
  if (!taken->has_value()) {
    Check(body == original);
    Check(it == reference.end());
    return 0;
  }
  Check(it != reference.end() && it->is_string());
  Check((*taken)->RevealAsString() == it->get<std::string>());
  bool unused = false;
  Json after = Parse(body, &unused);
  Check(!after.is_discarded());
  reference["private_key_pem"] = 0;
  Check(after == reference);
  return 0;
}
