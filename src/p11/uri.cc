#include "p11/uri.h"

#include <fmt/format.h>
#include <p11-kit/uri.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "p11/module.h"

namespace kmra::p11 {
namespace {

struct UriFree {
  void operator()(P11KitUri* u) const { p11_kit_uri_free(u); }
};
using UriPtr = std::unique_ptr<P11KitUri, UriFree>;

std::string AttrString(P11KitUri* uri, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE* a = p11_kit_uri_get_attribute(uri, type);
  if (a == nullptr || a->pValue == nullptr) return {};
  return std::string(static_cast<const char*>(a->pValue), a->ulValueLen);
}

// Copies `value` into a space-padded CK_UTF8CHAR field; InvalidArgument when it does not fit.
Status SetPadded(CK_UTF8CHAR* field, size_t size, const std::string& value, std::string_view what) {
  if (value.size() > size) {
    return InvalidArgument(fmt::format("{} '{}' is longer than the {} bytes PKCS#11 allows", what, value, size));
  }
  std::memset(field, ' ', size);
  std::copy(value.begin(), value.end(), field);  // blank padded, no NUL terminator
  return OkStatus();
}

}  // namespace

std::string_view ObjectClassName(CK_OBJECT_CLASS cls) {
  switch (cls) {
    case CKO_PRIVATE_KEY: return "private";
    case CKO_PUBLIC_KEY: return "public";
    case CKO_CERTIFICATE: return "cert";
    case CKO_SECRET_KEY: return "secret-key";
    case CKO_DATA: return "data";
    default: return "";
  }
}

Result<Uri> ParseUri(std::string_view text) {
  UriPtr uri(p11_kit_uri_new());
  if (!uri) return ResourceExhausted("p11_kit_uri_new");
  std::string s(text);
  int rc = p11_kit_uri_parse(s.c_str(), P11_KIT_URI_FOR_ANY, uri.get());
  if (rc != P11_KIT_URI_OK) {
    // Never echo the URI itself: it may hold a PIN.
    return InvalidArgument(fmt::format("not a valid PKCS#11 URI (RFC 7512): {}", p11_kit_uri_message(rc)));
  }
  Uri out;
  CK_TOKEN_INFO* token = p11_kit_uri_get_token_info(uri.get());
  out.token = TrimPadded(token->label, sizeof(token->label));
  out.manufacturer = TrimPadded(token->manufacturerID, sizeof(token->manufacturerID));
  out.serial = TrimPadded(token->serialNumber, sizeof(token->serialNumber));
  out.model = TrimPadded(token->model, sizeof(token->model));
  out.object = AttrString(uri.get(), CKA_LABEL);
  // Labels are text: a NUL byte cannot be matched by C-string based tools and does not round-trip.
  for (const std::string* field : {&out.token, &out.manufacturer, &out.serial, &out.model, &out.object}) {
    if (field->find('\0') != std::string::npos) {
      return InvalidArgument("the PKCS#11 URI has a NUL byte (%00) in a token or object name");
    }
  }
  std::string id = AttrString(uri.get(), CKA_ID);
  out.id.assign(id.begin(), id.end());
  if (CK_ATTRIBUTE* cls = p11_kit_uri_get_attribute(uri.get(), CKA_CLASS);
      cls != nullptr && cls->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
    CK_OBJECT_CLASS value = 0;
    std::memcpy(&value, cls->pValue, sizeof(value));
    out.type = value;
  }
  if (const char* pin = p11_kit_uri_get_pin_value(uri.get())) out.pin_value = SecretBytes::FromString(pin);
  if (const char* src = p11_kit_uri_get_pin_source(uri.get())) out.pin_source = src;
  if (const char* path = p11_kit_uri_get_module_path(uri.get())) out.module_path = path;
  if (const char* name = p11_kit_uri_get_module_name(uri.get())) out.module_name = name;
  return out;
}

Result<std::string> FormatUri(const Uri& in, bool include_pin) {
  UriPtr uri(p11_kit_uri_new());
  if (!uri) return ResourceExhausted("p11_kit_uri_new");
  CK_TOKEN_INFO* token = p11_kit_uri_get_token_info(uri.get());
  if (!in.token.empty()) KMRA_TRY(SetPadded(token->label, sizeof(token->label), in.token, "token label"));
  if (!in.manufacturer.empty()) {
    KMRA_TRY(SetPadded(token->manufacturerID, sizeof(token->manufacturerID), in.manufacturer, "manufacturer"));
  }
  if (!in.serial.empty()) KMRA_TRY(SetPadded(token->serialNumber, sizeof(token->serialNumber), in.serial, "serial"));
  if (!in.model.empty()) KMRA_TRY(SetPadded(token->model, sizeof(token->model), in.model, "model"));
  if (!in.object.empty()) {
    CK_ATTRIBUTE a{CKA_LABEL, const_cast<char*>(in.object.data()), static_cast<CK_ULONG>(in.object.size())};
    p11_kit_uri_set_attribute(uri.get(), &a);
  }
  if (!in.id.empty()) {
    CK_ATTRIBUTE a{CKA_ID, const_cast<uint8_t*>(in.id.data()), static_cast<CK_ULONG>(in.id.size())};
    p11_kit_uri_set_attribute(uri.get(), &a);
  }
  if (in.type) {
    if (ObjectClassName(*in.type).empty()) {
      return InvalidArgument(fmt::format("object class {:#x} has no RFC 7512 type name", *in.type));
    }
    CK_OBJECT_CLASS cls = *in.type;
    CK_ATTRIBUTE a{CKA_CLASS, &cls, sizeof(cls)};
    p11_kit_uri_set_attribute(uri.get(), &a);
  }
  std::string pin;
  if (include_pin && !in.pin_value.empty()) {
    pin = std::string(in.pin_value.RevealAsString());
    p11_kit_uri_set_pin_value(uri.get(), pin.c_str());
  }
  if (!in.pin_source.empty()) p11_kit_uri_set_pin_source(uri.get(), in.pin_source.c_str());
  if (!in.module_path.empty()) p11_kit_uri_set_module_path(uri.get(), in.module_path.c_str());
  if (!in.module_name.empty()) p11_kit_uri_set_module_name(uri.get(), in.module_name.c_str());
  char* formatted = nullptr;
  int rc = p11_kit_uri_format(uri.get(), P11_KIT_URI_FOR_ANY, &formatted);
  SecureWipe(pin.data(), pin.size());
  if (rc != P11_KIT_URI_OK || formatted == nullptr) {
    return Internal(fmt::format("cannot format the PKCS#11 URI: {}", p11_kit_uri_message(rc)));
  }
  std::string out(formatted);
  if (include_pin) SecureWipe(formatted, std::strlen(formatted));
  std::free(formatted);
  return out;
}

}  // namespace kmra::p11
