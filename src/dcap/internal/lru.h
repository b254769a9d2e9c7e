// A small bounded, thread-safe LRU map from byte-string keys to shared immutable values. Lookups
// take a shared lock only (a hit records its use in an atomic stamp instead of reordering a list),
// so concurrent verifications do not serialise on a cache they all hit; inserting takes the lock
// exclusively and evicts the entry with the oldest stamp.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace kmra::dcap::internal {

template <class V>
class Lru {
 public:
  explicit Lru(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // The value for `key`, or null. Marks it most recently used.
  std::shared_ptr<const V> Get(std::string_view key) {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    it->second.used.store(clock_.fetch_add(1, std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
    return it->second.value;
  }

  // Stores `value` under `key` (replacing), evicting the least recently used entry when full.
  void Put(const std::string& key, std::shared_ptr<const V> value) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    const uint64_t now = clock_.fetch_add(1, std::memory_order_relaxed) + 1;
    auto [it, inserted] = map_.try_emplace(key);
    it->second.value = std::move(value);
    it->second.used.store(now, std::memory_order_relaxed);
    if (!inserted) return;
    while (map_.size() > capacity_) {
      auto victim = map_.end();
      uint64_t oldest = UINT64_MAX;
      for (auto e = map_.begin(); e != map_.end(); ++e) {
        const uint64_t used = e->second.used.load(std::memory_order_relaxed);
        if (e != it && used < oldest) {
          oldest = used;
          victim = e;
        }
      }
      if (victim == map_.end()) break;
      map_.erase(victim);
    }
  }

  size_t size() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return map_.size();
  }
  std::pair<uint64_t, uint64_t> hits_misses() const {
    return {hits_.load(std::memory_order_relaxed), misses_.load(std::memory_order_relaxed)};
  }

 private:
  struct Entry {
    std::shared_ptr<const V> value;
    std::atomic<uint64_t> used{0};
  };
  mutable std::shared_mutex mu_;
  size_t capacity_;
  // Looked up by string_view: a hit does not copy the key (a PEM chain is a few kilobytes). Hashing
  // every byte of such keys cost more than the rest of a cached verification's lookups, so a long
  // key is hashed by its length, every 61st byte and its last 32 bytes. Equality still compares
  // every byte: keys made to collide only lengthen a bucket, and the map holds `capacity` entries.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      if (s.size() <= 256) return std::hash<std::string_view>{}(s);
      uint64_t h = 0xcbf29ce484222325ULL ^ s.size();  // FNV-1a over the samples
      auto mix = [&h](char c) { h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL; };
      for (size_t i = 0; i < s.size(); i += 61) mix(s[i]);
      for (size_t i = s.size() - 32; i < s.size(); ++i) mix(s[i]);
      return static_cast<size_t>(h);
    }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> map_;
  std::atomic<uint64_t> clock_{0};
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace kmra::dcap::internal
