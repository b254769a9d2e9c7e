#include "server/nonce_limiter.h"

#include <algorithm>
#include <cmath>

namespace kmra::server {
namespace {

std::string Key(std::span<const std::uint8_t> nonce) {
  return std::string(reinterpret_cast<const char*>(nonce.data()), nonce.size());
}

}  // namespace

void NonceLimiter::DropExpired(Client& c, std::int64_t now) {
  std::erase_if(c.outstanding, [now](const auto& item) { return item.second < now; });
}

std::optional<NonceLimiter::Refusal> NonceLimiter::Admit(const std::string& client,
                                                         std::int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = clients_.try_emplace(client);
  Client& c = it->second;
  if (fresh) {
    c.tokens = static_cast<double>(limits_.burst);
    c.last = now;
  }
  if (now > c.last) {
    c.tokens = std::min<double>(
        static_cast<double>(limits_.burst),
        c.tokens + static_cast<double>(now - c.last) * static_cast<double>(limits_.rate));
    c.last = now;
  }
  if (c.tokens < 1) {
    const auto wait =
        static_cast<std::int64_t>(std::ceil((1 - c.tokens) / static_cast<double>(limits_.rate)));
    return Refusal{std::max<std::int64_t>(1, wait), "rate",
                   "client '" + client + "' asks for nonces faster than " +
                       std::to_string(limits_.rate) +
                       " per second ([attestation] nonce_rate); "
                       "retry after the Retry-After seconds"};
  }
  if (static_cast<std::int64_t>(c.outstanding.size()) >= limits_.max_outstanding) {
    DropExpired(c, now);
  }
  if (static_cast<std::int64_t>(c.outstanding.size()) >= limits_.max_outstanding) {
    std::int64_t first = c.outstanding.begin()->second;
    for (const auto& [nonce, expires] : c.outstanding) first = std::min(first, expires);
    return Refusal{std::max<std::int64_t>(1, first - now + 1), "outstanding",
                   "client '" + client + "' holds " + std::to_string(c.outstanding.size()) +
                       " unused nonces, the most allowed ([attestation] nonce_max_outstanding); "
                       "use them or wait until they expire"};
  }
  c.tokens -= 1;
  return std::nullopt;
}

void NonceLimiter::Issued(const std::string& client, std::span<const std::uint8_t> nonce,
                          std::int64_t expires_at) {
  std::lock_guard<std::mutex> lock(mu_);
  clients_[client].outstanding[Key(nonce)] = expires_at;
}

void NonceLimiter::Used(const std::string& client, std::span<const std::uint8_t> nonce) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(client);
  if (it != clients_.end()) it->second.outstanding.erase(Key(nonce));
}

std::size_t NonceLimiter::Purge(std::int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t total = 0;
  for (auto& [name, c] : clients_) {
    DropExpired(c, now);
    total += c.outstanding.size();
  }
  return total;
}

}  // namespace kmra::server
