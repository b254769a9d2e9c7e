// Attrs: a PKCS#11 attribute template that owns its values.
//
//   p11::Attrs t;
//   t.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Bool(CKA_TOKEN, true).String(CKA_LABEL, "web");
//   fn->C_FindObjectsInit(session, t.data(), t.size());
//
// Values are copied into storage that is wiped when the Attrs is destroyed, so a template may carry key
// components (C_CreateObject of an imported key) without leaving them in freed memory.
// The CK_ATTRIBUTE array stays valid until the next mutation. Not thread safe.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <list>
#include <span>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"

namespace kmra::p11 {

class Attrs {
 public:
  Attrs() = default;
  Attrs(const Attrs&) = delete;
  Attrs& operator=(const Attrs&) = delete;
  Attrs(Attrs&&) = default;
  Attrs& operator=(Attrs&&) = default;

  Attrs& Bool(CK_ATTRIBUTE_TYPE type, bool value);
  Attrs& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  Attrs& Bytes(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value);
  Attrs& String(CK_ATTRIBUTE_TYPE type, std::string_view value);
  // Same as Bytes; the name marks a value that is secret (private key components).
  Attrs& Secret(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value) { return Bytes(type, value); }

  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return static_cast<CK_ULONG>(attrs_.size()); }
  bool empty() const { return attrs_.empty(); }

 private:
  Attrs& Add(CK_ATTRIBUTE_TYPE type, const void* value, size_t size);

  // A list so that the buffers never move when more attributes are added.
  std::list<SecretBytes> values_;
  std::vector<CK_ATTRIBUTE> attrs_;
};

}  // namespace kmra::p11
