#include "p11/attributes.h"

namespace kmra::p11 {

Attrs& Attrs::Add(CK_ATTRIBUTE_TYPE type, const void* value, size_t size) {
  auto& stored = values_.emplace_back(
      std::span<const uint8_t>(static_cast<const uint8_t*>(value), size));
  // A zero-length value still gets a non-null pointer for modules that check pValue.
  CK_VOID_PTR ptr = stored.empty() ? static_cast<CK_VOID_PTR>(&stored) : stored.RevealMutable().data();
  attrs_.push_back(CK_ATTRIBUTE{type, ptr, static_cast<CK_ULONG>(size)});
  return *this;
}

Attrs& Attrs::Bool(CK_ATTRIBUTE_TYPE type, bool value) {
  CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
  return Add(type, &b, sizeof(b));
}

Attrs& Attrs::Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) { return Add(type, &value, sizeof(value)); }

Attrs& Attrs::Bytes(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value) {
  return Add(type, value.data(), value.size());
}

Attrs& Attrs::String(CK_ATTRIBUTE_TYPE type, std::string_view value) {
  return Add(type, value.data(), value.size());
}

}  // namespace kmra::p11
