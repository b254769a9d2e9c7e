// Takes a secret string member (an imported private key's PEM) out of a JSON request body before
// the body reaches the JSON parser, whose lexer keeps a copy of every string token in buffers it
// frees without wiping. The member's value is decoded straight into SecretBytes and overwritten in
// the body by `null` and spaces, so the parser that runs next sees no secret; the caller wipes the
// body afterwards as before.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::server {

// Looks for the top-level member `name` of the JSON object in `body`. Returns nullopt when the
// object has no such member (nested objects are skipped, not searched). Errors (InvalidArgument,
// naming the byte offset): the body is not a JSON object, a string is malformed, the member occurs
// twice, or its value is not a string. On error the body is left as it was (the caller wipes it).
Result<std::optional<SecretBytes>> TakeSecretMember(std::string& body, std::string_view name);

}  // namespace kmra::server
