// simdjson helpers for Intel's signed collateral JSON.
#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kmra::dcap::internal {

// The signed value of a collateral document and its signature.
struct SignedJson {
  std::string body;                    // exact bytes of the signed object value
  std::array<uint8_t, 64> signature{};  // r || s
};

// Splits {"<body_key>":{...},"signature":"<128 hex>"} into the raw bytes of the body value (never
// re-serialised) and the decoded signature. `what` names the document in errors.
Result<SignedJson> SplitSignedJson(std::string_view json, std::string_view body_key,
                                   std::string_view what);

// Typed field access on a DOM object with errors that name the document and the field.
class Fields {
 public:
  Fields(simdjson::dom::object obj, std::string context)
      : obj_(obj), context_(std::move(context)) {}

  bool Has(std::string_view key) const;
  Result<std::string_view> String(std::string_view key) const;
  Result<int64_t> Int(std::string_view key, int64_t min, int64_t max) const;
  Result<simdjson::dom::array> Array(std::string_view key) const;
  Result<simdjson::dom::object> Object(std::string_view key) const;
  // A hex string of exactly `size` bytes.
  Result<std::vector<uint8_t>> HexBytes(std::string_view key, size_t size) const;
  // An RFC 3339 UTC date as unix seconds.
  Result<int64_t> Date(std::string_view key) const;
  // An array of strings (absent: empty).
  Result<std::vector<std::string>> StringList(std::string_view key) const;

  const std::string& context() const { return context_; }
  tl::unexpected<Error> Bad(std::string_view key, std::string_view what) const;

 private:
  simdjson::dom::object obj_;
  std::string context_;
};

// Copies a byte vector of known size into an array (sizes are checked by HexBytes).
template <size_t N>
std::array<uint8_t, N> ToArray(const std::vector<uint8_t>& v) {
  std::array<uint8_t, N> a{};
  for (size_t i = 0; i < N && i < v.size(); ++i) a[i] = v[i];
  return a;
}

}  // namespace kmra::dcap::internal
