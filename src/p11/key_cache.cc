#include "p11/key_cache.h"

#include <algorithm>
#include <array>
#include <optional>

namespace kmra::p11 {
namespace {

// One C_GetAttributeValue: is `handle` still the private key named `name` in this session's
// module? Any error (handle gone, attribute too long, HSM down) answers no; FindKey then gives
// the real error.
bool StillNames(Session& session, CK_OBJECT_HANDLE handle, const KeyName& name) {
  CK_OBJECT_CLASS cls = 0;
  std::array<CK_BYTE, 256> label{};
  std::array<CK_BYTE, 256> id{};
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_LABEL, label.data(), label.size()},
                         {CKA_ID, id.data(), id.size()}};
  if (session.fn()->C_GetAttributeValue(session.handle(), handle, tmpl, 3) != CKR_OK) return false;
  if (cls != CKO_PRIVATE_KEY) return false;
  const auto equals = [](const CK_ATTRIBUTE& a, const CK_BYTE* want, size_t size) {
    return a.ulValueLen == size && std::equal(want, want + size, static_cast<CK_BYTE*>(a.pValue));
  };
  if (!name.label.empty() &&
      !equals(tmpl[1], reinterpret_cast<const CK_BYTE*>(name.label.data()), name.label.size())) {
    return false;
  }
  if (!name.id.empty() && !equals(tmpl[2], name.id.data(), name.id.size())) return false;
  return true;
}

}  // namespace

Result<KeyObjects> KeyHandleCache::Find(Session& session, const KeyName& name) {
  Key key{name.label, name.id};
  std::optional<KeyObjects> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      if (it->second.module.lock() == session.module()) {
        cached = it->second.objects;
      } else {
        entries_.erase(it);  // found through a module instance that is gone
      }
    }
  }
  if (cached && StillNames(session, cached->private_key, name)) return *cached;
  auto found = FindKey(session, name);
  std::lock_guard<std::mutex> lock(mu_);
  if (!found) {
    entries_.erase(key);
    return found;
  }
  entries_[key] = Entry{session.module(), *found};
  return found;
}

void KeyHandleCache::Forget(const KeyName& name) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(Key{name.label, name.id});
}

void KeyHandleCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
}

size_t KeyHandleCache::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace kmra::p11
