#include "token/object.h"

#include <openssl/rand.h>

#include <cstring>

#include "token/keys.h"

namespace kmra::token {

bool Object::Bool(CK_ATTRIBUTE_TYPE type, bool def) const {
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.size() != sizeof(CK_BBOOL)) return def;
  return it->second[0] != CK_FALSE;
}

CK_ULONG Object::Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG def) const {
  auto it = attrs.find(type);
  if (it == attrs.end() || it->second.size() != sizeof(CK_ULONG)) return def;
  CK_ULONG v;
  std::memcpy(&v, it->second.data(), sizeof v);
  return v;
}

void Object::SetBool(CK_ATTRIBUTE_TYPE type, bool value) {
  attrs[type] = {static_cast<uint8_t>(value ? CK_TRUE : CK_FALSE)};
}

void Object::SetUlong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
  std::vector<uint8_t> v(sizeof value);
  std::memcpy(v.data(), &value, sizeof value);
  attrs[type] = std::move(v);
}

void Object::SetBytes(CK_ATTRIBUTE_TYPE type, std::span<const uint8_t> value) {
  attrs[type] = std::vector<uint8_t>(value.begin(), value.end());
}

namespace {

// Layout (all integers little endian): "KOB1" u32 count { u64 type, u32 len, bytes }* u32
// secret_len secret. CK_ULONG values are stored as 8 bytes so a token moves between builds of one
// ABI.
constexpr uint8_t kMagic[4] = {'K', 'O', 'B', '1'};

void PutU32(SecretBytes& out, size_t& pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.RevealMutable()[pos++] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(SecretBytes& out, size_t& pos, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.RevealMutable()[pos++] = static_cast<uint8_t>(v >> (8 * i));
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool U32(uint32_t& v) {
    if (b_.size() - pos_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(b_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return true;
  }
  bool U64(uint64_t& v) {
    if (b_.size() - pos_ < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(b_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return true;
  }
  bool Bytes(size_t n, std::span<const uint8_t>& out) {
    if (b_.size() - pos_ < n) return false;
    out = b_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == b_.size(); }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

}  // namespace

SecretBytes SerializeObject(const Object& object) {
  size_t total = 4 + 4 + 4 + object.secret.size();
  for (const auto& [type, value] : object.attrs) total += 12 + value.size();
  SecretBytes out(total);
  size_t pos = 0;
  std::memcpy(out.RevealMutable().data(), kMagic, 4);
  pos = 4;
  PutU32(out, pos, static_cast<uint32_t>(object.attrs.size()));
  for (const auto& [type, value] : object.attrs) {
    PutU64(out, pos, type);
    PutU32(out, pos, static_cast<uint32_t>(value.size()));
    if (!value.empty()) std::memcpy(out.RevealMutable().data() + pos, value.data(), value.size());
    pos += value.size();
  }
  PutU32(out, pos, static_cast<uint32_t>(object.secret.size()));
  if (!object.secret.empty()) {
    std::memcpy(out.RevealMutable().data() + pos, object.secret.Reveal().data(),
                object.secret.size());
  }
  return out;
}

Result<Object> DeserializeObject(std::span<const uint8_t> bytes, const std::string& uid) {
  Reader r(bytes);
  std::span<const uint8_t> magic;
  if (!r.Bytes(4, magic) || std::memcmp(magic.data(), kMagic, 4) != 0) {
    return DataLoss("object " + uid + ": unknown encoding");
  }
  uint32_t count = 0;
  if (!r.U32(count) || count > 4096) return DataLoss("object " + uid + ": bad attribute count");
  Object o;
  o.uid = uid;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t type = 0;
    uint32_t len = 0;
    std::span<const uint8_t> value;
    if (!r.U64(type) || !r.U32(len) || !r.Bytes(len, value)) {
      return DataLoss("object " + uid + ": truncated attribute list");
    }
    o.attrs[static_cast<CK_ATTRIBUTE_TYPE>(type)].assign(value.begin(), value.end());
  }
  uint32_t secret_len = 0;
  std::span<const uint8_t> secret;
  if (!r.U32(secret_len) || !r.Bytes(secret_len, secret) || !r.AtEnd()) {
    return DataLoss("object " + uid + ": truncated secret");
  }
  o.secret = SecretBytes(secret);
  KMRA_TRY(AttachKey(o));
  return o;
}

std::string NewUid() {
  uint8_t raw[16];
  // Without randomness uids could repeat, and a repeated uid overwrites another object's file.
  if (RAND_bytes(raw, sizeof raw) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : raw) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

}  // namespace kmra::token
