// Admission control for the key server's listener: per source address, a cap on concurrent
// connections and a token bucket on new connections per second. The global cap (max_connections) is
// checked by the listener itself. Thread safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kmra::server {

struct AdmissionLimits {
  std::size_t per_address = 256;  // concurrent connections per source address; 0: no cap
  double per_address_rate = 200;  // new connections per second per address (burst: one second's
                                  // worth); 0: no cap
};

class AdmissionTable {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict { kAdmit, kPerAddress, kRate };

  explicit AdmissionTable(AdmissionLimits limits) : limits_(limits) {}

  // Counts a new connection from `address` when it is admitted (then Release must follow once).
  Verdict Admit(const std::string& address, Clock::time_point now);
  // The admitted connection from `address` has closed.
  void Release(const std::string& address);
  // Addresses tracked right now (for tests: the table does not grow with old addresses).
  std::size_t Tracked() const;

  // Stable label for a refusal ("per_address", "rate").
  static std::string_view Reason(Verdict verdict);

 private:
  struct Entry {
    std::size_t active = 0;
    double tokens = 0;
    Clock::time_point last;
  };
  void Refill(Entry& e, Clock::time_point now) const;
  void Prune(Clock::time_point now);

  AdmissionLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  Clock::time_point last_prune_;
};

}  // namespace kmra::server
