// Reading the TOML config's tables (private to the config files): typed settings, unknown keys
// refused. config.cc reads most sections; config_store.cc reads [store] and [server].
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "base/result.h"
#include "server/config.h"

namespace kmra::server::internal {

// Reads typed settings of one table and refuses keys it does not know.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string section)
      : table_(table), section_(std::move(section)) {}

  template <class T>
  void Get(const std::string& key, T* out) {
    known_.push_back(key);
    const toml::node* node = table_.get(key);
    if (!node || !status_) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = node->value<std::string>()) {
        *out = *v;
        return;
      }
      Fail(key, "a string");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = node->value<bool>()) {
        *out = *v;
        return;
      }
      Fail(key, "true or false");
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      const toml::array* arr = node->as_array();
      if (!arr) return Fail(key, "a list of strings");
      out->clear();
      for (const auto& item : *arr) {
        auto v = item.value<std::string>();
        if (!v) return Fail(key, "a list of strings");
        out->push_back(*v);
      }
    } else {
      auto v = node->value<std::int64_t>();
      if (!v || *v < 0 || static_cast<std::uint64_t>(*v) > std::numeric_limits<T>::max()) {
        return Fail(key, "an integer from 0 to " + std::to_string(std::numeric_limits<T>::max()));
      }
      *out = static_cast<T>(*v);
    }
  }

  Status Finish() {
    if (!status_) return status_;
    for (const auto& [key, node] : table_) {
      std::string k(key.str());
      if (std::find(known_.begin(), known_.end(), k) == known_.end()) {
        std::string list;
        for (const auto& n : known_) list += (list.empty() ? "" : ", ") + n;
        // NOLINTNEXTLINE(performance-inefficient-string-concatenation): runs once (returns)
        return InvalidArgument("unknown setting '" + k + "' in [" + section_ + "]; known: " + list);
      }
    }
    return OkStatus();
  }

 private:
  void Fail(const std::string& key, const std::string& expected) {
    if (status_) status_ = InvalidArgument("[" + section_ + "] " + key + " must be " + expected);
  }
  const toml::table& table_;
  std::string section_;
  std::vector<std::string> known_;
  Status status_;
};

// [store] and [server] (config_store.cc). `store` and `server` may be empty tables.
Status ReadStoreSettings(const toml::table& store, ServerConfig* c);
Status ReadServerSettings(const toml::table& server, ServerConfig* c);

}  // namespace kmra::server::internal
