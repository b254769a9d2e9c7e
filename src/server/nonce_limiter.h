// Bounds what one client can make the server hold through POST /v1/nonce: at most
// `max_outstanding` nonces issued to a client and neither used nor expired, and a token bucket of
// `rate` nonces per second with bursts of `burst`. Clients are verified certificate identities
// (OU), so the number of buckets is bounded by the client CA. Per server process (replicas each
// apply it). Times are unix seconds from the caller's clock. Thread safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>

namespace kmra::server {

class NonceLimiter {
 public:
  struct Limits {
    std::int64_t max_outstanding = 256;
    std::int64_t rate = 50;  // per second
    std::int64_t burst = 100;
  };
  struct Refusal {
    std::int64_t retry_after = 1;  // seconds, for the Retry-After header
    std::string reason;            // "rate" or "outstanding" (metric label)
    std::string message;
  };

  explicit NonceLimiter(Limits limits) : limits_(limits) {}

  // Admits one more nonce for `client` at `now`, to expire at `expires_at`, or says when to retry.
  std::optional<Refusal> Admit(const std::string& client, std::int64_t now);
  // Records the admitted nonce (after the store accepted it).
  void Issued(const std::string& client, std::span<const std::uint8_t> nonce,
              std::int64_t expires_at);
  // A release used the nonce: it no longer counts against `client`.
  void Used(const std::string& client, std::span<const std::uint8_t> nonce);
  // Forgets expired nonces; returns how many nonces are outstanding in all.
  std::size_t Purge(std::int64_t now);

 private:
  struct Client {
    double tokens = 0;
    std::int64_t last = 0;
    std::map<std::string, std::int64_t> outstanding;  // nonce bytes -> expires_at
  };
  static void DropExpired(Client& c, std::int64_t now);

  const Limits limits_;
  std::mutex mu_;
  std::map<std::string, Client> clients_;
};

}  // namespace kmra::server
