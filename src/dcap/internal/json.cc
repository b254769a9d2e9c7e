#include "dcap/internal/json.h"

#include "dcap/internal/bytes.h"

namespace kmra::dcap::internal {

Result<SignedJson> SplitSignedJson(std::string_view json, std::string_view body_key,
                                   std::string_view what) {
  const std::string name(what);
  {
    // The on-demand pass below is lazy; a full DOM parse first rejects any invalid or trailing byte.
    simdjson::dom::parser validator;
    simdjson::dom::element root;
    if (auto err = validator.parse(json.data(), json.size()).get(root)) {
      return InvalidArgument(name + " is not valid JSON (" + simdjson::error_message(err) + ")");
    }
  }
  simdjson::padded_string padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object top;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(top)) {
    return InvalidArgument(name + " is not a JSON object");
  }
  SignedJson out;
  bool have_body = false, have_sig = false;
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return InvalidArgument(name + " is not valid JSON");
    if (key == body_key) {
      simdjson::ondemand::object body;
      std::string_view raw;
      if (have_body || field.value().get_object().get(body) || body.raw_json().get(raw)) {
        return InvalidArgument(name + ": \"" + std::string(body_key) +
                               "\" must appear once and be an object");
      }
      // raw points into the padded copy; take the same bytes of the caller's text.
      const size_t offset = static_cast<size_t>(raw.data() - padded.data());
      out.body.assign(json.substr(offset, raw.size()));
      have_body = true;
    } else if (key == "signature") {
      std::string_view hex;
      if (have_sig || field.value().get_string().get(hex)) {
        return InvalidArgument(name + ": \"signature\" must appear once and be a string");
      }
      auto sig = Unhex(hex);
      if (!sig || sig->size() != 64) {
        return InvalidArgument(name + ": \"signature\" must be 128 hex digits (r || s), found " +
                               std::to_string(hex.size()) + " characters");
      }
      std::copy(sig->begin(), sig->end(), out.signature.begin());
      have_sig = true;
    } else {
      simdjson::ondemand::value ignored;
      if (field.value().get(ignored)) return InvalidArgument(name + " is not valid JSON");
    }
  }
  if (!have_body) return InvalidArgument(name + " has no \"" + std::string(body_key) + "\" object");
  if (!have_sig) return InvalidArgument(name + " has no \"signature\"");
  return out;
}

tl::unexpected<Error> Fields::Bad(std::string_view key, std::string_view what) const {
  return InvalidArgument(context_ + ": field \"" + std::string(key) + "\" " + std::string(what));
}

bool Fields::Has(std::string_view key) const {
  simdjson::dom::element e;
  return obj_.at_key(key).get(e) == simdjson::SUCCESS;
}

Result<std::string_view> Fields::String(std::string_view key) const {
  std::string_view v;
  if (obj_.at_key(key).get_string().get(v)) return Bad(key, "is missing or not a string");
  return v;
}

Result<int64_t> Fields::Int(std::string_view key, int64_t min, int64_t max) const {
  int64_t v = 0;
  if (obj_.at_key(key).get_int64().get(v)) return Bad(key, "is missing or not an integer");
  if (v < min || v > max) {
    return Bad(key, "is " + std::to_string(v) + ", outside " + std::to_string(min) + ".." +
                        std::to_string(max));
  }
  return v;
}

Result<simdjson::dom::array> Fields::Array(std::string_view key) const {
  simdjson::dom::array v;
  if (obj_.at_key(key).get_array().get(v)) return Bad(key, "is missing or not an array");
  return v;
}

Result<simdjson::dom::object> Fields::Object(std::string_view key) const {
  simdjson::dom::object v;
  if (obj_.at_key(key).get_object().get(v)) return Bad(key, "is missing or not an object");
  return v;
}

Result<std::vector<uint8_t>> Fields::HexBytes(std::string_view key, size_t size) const {
  KMRA_ASSIGN_OR_RETURN(std::string_view s, String(key));
  auto v = Unhex(s);
  if (!v || v->size() != size) {
    return Bad(key, "must be " + std::to_string(size * 2) + " hex digits, found \"" +
                        std::string(s.substr(0, 100)) + "\"");
  }
  return std::move(*v);
}

Result<int64_t> Fields::Date(std::string_view key) const {
  KMRA_ASSIGN_OR_RETURN(std::string_view s, String(key));
  auto t = ParseUtc(s);
  if (!t) return Bad(key, "is not a UTC date like 2025-07-19T10:56:11Z");
  return *t;
}

Result<std::vector<std::string>> Fields::StringList(std::string_view key) const {
  std::vector<std::string> out;
  if (!Has(key)) return out;
  KMRA_ASSIGN_OR_RETURN(simdjson::dom::array arr, Array(key));
  for (simdjson::dom::element e : arr) {
    std::string_view s;
    if (e.get_string().get(s)) return Bad(key, "must hold only strings");
    out.emplace_back(s);
  }
  return out;
}

}  // namespace kmra::dcap::internal
