// A small bounded, thread-safe LRU map from byte-string keys to shared immutable values.
#pragma once

#include <list>
#include <memory>
#include <mutex>
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
  std::shared_ptr<const V> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  // Stores `value` under `key` (replacing), evicting the least recently used entry when full.
  void Put(const std::string& key, std::shared_ptr<const V> value) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, std::move(value));
    map_.emplace(order_.front().first, order_.begin());
    while (map_.size() > capacity_) {
      map_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
  }
  std::pair<uint64_t, uint64_t> hits_misses() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {hits_, misses_};
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const V>>;
  mutable std::mutex mu_;
  size_t capacity_;
  std::list<Entry> order_;
  std::unordered_map<std::string_view, typename std::list<Entry>::iterator> map_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace kmra::dcap::internal
