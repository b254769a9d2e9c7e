// Remembers where a named key lives in the HSM, so the release path does not search the token
// (C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal plus attribute reads) on every request.
//
// An entry belongs to the module instance (C_Initialize) it was found in: after the session pool
// reconnects, entries of the old instance are never used. Before every use the private key's
// handle is re-checked with one C_GetAttributeValue (class, label and id must still be the ones
// asked for), so a key deleted or replaced behind the server's back is looked up again instead of
// a stale handle naming some other object.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "p11/keys.h"

namespace kmra::p11 {

class KeyHandleCache {
 public:
  // FindKey through the cache. Errors as FindKey.
  Result<KeyObjects> Find(Session& session, const KeyName& name);

  // Drops one key (after an error that may mean its handle is no longer good), or all of them
  // (after the keys were changed through this process: deleted, rotated, re-imported).
  void Forget(const KeyName& name);
  void Clear();

  size_t size();

 private:
  struct Entry {
    std::weak_ptr<Module> module;
    KeyObjects objects;
  };
  using Key = std::pair<std::string, std::vector<uint8_t>>;

  std::mutex mu_;
  std::map<Key, Entry> entries_;
};

}  // namespace kmra::p11
