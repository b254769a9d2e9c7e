// RFC 7512 PKCS#11 URIs: "pkcs11:token=kmra;object=web;type=private?pin-value=1234".
// Parsing and formatting go through p11-kit (p11-kit/uri.h), so escaping follows the RFC.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra::p11 {

struct Uri {
  // Path attributes (empty = absent).
  std::string token;         // token label
  std::string manufacturer;  // token manufacturer
  std::string serial;        // token serial
  std::string model;         // token model
  std::string object;        // CKA_LABEL
  std::vector<uint8_t> id;   // CKA_ID
  std::optional<CK_OBJECT_CLASS> type;  // "private", "public", "cert", "secret-key", "data"
  // Query attributes.
  SecretBytes pin_value;
  std::string pin_source;
  std::string module_path;
  std::string module_name;
};

// Parses a "pkcs11:" URI. InvalidArgument says what is wrong (scheme, encoding, syntax, unknown type).
Result<Uri> ParseUri(std::string_view text);

// Formats `uri`; the PIN is included only when include_pin is true (never do that for logs).
Result<std::string> FormatUri(const Uri& uri, bool include_pin = false);

// "private", "public", "cert", "secret-key", "data"; "" for other classes.
std::string_view ObjectClassName(CK_OBJECT_CLASS cls);

}  // namespace kmra::p11
