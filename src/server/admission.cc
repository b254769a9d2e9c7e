#include "server/admission.h"

#include <algorithm>

namespace kmra::server {
namespace {

// Above this many tracked addresses, idle ones with a full bucket are forgotten (at most once a
// second), so a sweep over many source addresses does not grow the table for ever.
constexpr std::size_t kPruneAbove = 4096;

}  // namespace

void AdmissionTable::Refill(Entry& e, Clock::time_point now) const {
  const double seconds = std::chrono::duration<double>(now - e.last).count();
  e.tokens = std::min(limits_.per_address_rate, e.tokens + seconds * limits_.per_address_rate);
  e.last = now;
}

void AdmissionTable::Prune(Clock::time_point now) {
  if (entries_.size() <= kPruneAbove || now - last_prune_ < std::chrono::seconds(1)) return;
  last_prune_ = now;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Refill(it->second, now);
    const bool idle = it->second.active == 0 && it->second.tokens >= limits_.per_address_rate;
    it = idle ? entries_.erase(it) : std::next(it);
  }
}

AdmissionTable::Verdict AdmissionTable::Admit(const std::string& address, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Prune(now);
  auto [it, inserted] = entries_.try_emplace(address);
  Entry& e = it->second;
  if (inserted) {
    e.tokens = limits_.per_address_rate;
    e.last = now;
  }
  if (limits_.per_address != 0 && e.active >= limits_.per_address) return Verdict::kPerAddress;
  if (limits_.per_address_rate > 0) {
    Refill(e, now);
    if (e.tokens < 1) return Verdict::kRate;
    e.tokens -= 1;
  }
  ++e.active;
  return Verdict::kAdmit;
}

void AdmissionTable::Release(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end() || it->second.active == 0) return;
  --it->second.active;
  if (it->second.active == 0 && limits_.per_address_rate <= 0) entries_.erase(it);
}

std::size_t AdmissionTable::Tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::string_view AdmissionTable::Reason(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAdmit:
      return "admitted";
    case Verdict::kPerAddress:
      return "per_address";
    case Verdict::kRate:
      return "rate";
  }
  return "other";
}

}  // namespace kmra::server
