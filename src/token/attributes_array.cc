// Template attributes (CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE): arrays of
// CK_ATTRIBUTE (PKCS#11 v2.40 §4.1.3 CKF_ARRAY_ATTRIBUTE). They are stored as the values they name,
// in this encoding (little endian): u32 count { u64 type, u32 length, bytes }*, sorted by type. A
// sealed token object therefore holds values, never a creator's pointers.
#include "token/attributes.h"

namespace kmra::token {
namespace {

void Put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

bool Get(std::span<const uint8_t> in, size_t& pos, int bytes, uint64_t& v) {
  if (in.size() - pos < static_cast<size_t>(bytes)) return false;
  v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(in[pos + i]) << (8 * i);
  pos += bytes;
  return true;
}

}  // namespace

std::vector<uint8_t> EncodeTemplateValue(const AttrMap& inner) {
  std::vector<uint8_t> out;
  Put(out, inner.size(), 4);
  for (const auto& [type, value] : inner) {
    Put(out, type, 8);
    Put(out, value.size(), 4);
    out.insert(out.end(), value.begin(), value.end());
  }
  return out;
}

CK_RV DecodeTemplateValue(std::span<const uint8_t> stored, AttrMap& out) {
  if (stored.empty()) return CKR_OK;
  size_t pos = 0;
  uint64_t count = 0;
  if (!Get(stored, pos, 4, count) || count > 4096) return CKR_GENERAL_ERROR;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t type = 0, len = 0;
    if (!Get(stored, pos, 8, type) || !Get(stored, pos, 4, len) || stored.size() - pos < len) {
      return CKR_GENERAL_ERROR;
    }
    const auto value = stored.subspan(pos, static_cast<size_t>(len));
    out[static_cast<CK_ATTRIBUTE_TYPE>(type)].assign(value.begin(), value.end());
    pos += len;
  }
  return pos == stored.size() ? CKR_OK : CKR_GENERAL_ERROR;
}

CK_RV GetTemplateValue(const AttrMap& attrs, CK_ATTRIBUTE& a) {
  AttrMap inner;
  auto it = attrs.find(a.type);
  if (it != attrs.end() && DecodeTemplateValue(it->second, inner) != CKR_OK) {
    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_GENERAL_ERROR;
  }
  const CK_ULONG need = inner.size() * sizeof(CK_ATTRIBUTE);
  // §5.7: a NULL pValue asks for the array's size; then the caller passes an array whose
  // elements' pValue are NULL (to learn types and lengths) or buffers (to get the values).
  if (a.pValue == nullptr) {
    a.ulValueLen = need;
    return CKR_OK;
  }
  if (a.ulValueLen < need) {
    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  auto* elems = static_cast<CK_ATTRIBUTE*>(a.pValue);
  CK_RV rv = CKR_OK;
  size_t i = 0;
  for (const auto& [type, value] : inner) {
    CK_ATTRIBUTE& e = elems[i++];
    e.type = type;
    if (CopyOut(value, e) != CKR_OK) rv = CKR_BUFFER_TOO_SMALL;
  }
  a.ulValueLen = need;
  return rv;
}

}  // namespace kmra::token
