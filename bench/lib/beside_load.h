// Load that runs beside bench/release_load's measured releases, to see what it does to them:
// - "audit-verify": an administrator runs GET /v1/audit/verify back to back (each one reads and
//   re-hashes the whole audit chain);
// - "abuse:R": R new connections per second from another local address (127.0.0.2) that complete
//   a TLS handshake without a client certificate and send a request, as a scanner or an attacker
//   without credentials would (open loop: due at R/s whatever the server does with them).
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace kmra::bench {

class BesideLoad {
 public:
  // `kind`: "none", "audit-verify" or "abuse:R". `dir`: the --dev directory (tls/ files).
  // `base_url`: https://HOST:PORT of the server (or of the load balancer in front of it).
  BesideLoad(std::string kind, std::string dir, std::string base_url);
  ~BesideLoad() { Stop(); }
  BesideLoad(const BesideLoad&) = delete;
  BesideLoad& operator=(const BesideLoad&) = delete;

  static bool Valid(const std::string& kind);
  void Start();
  void Stop();
  // "-" for none; else what ran over `seconds`, e.g. "12 verifies" or "4000 refused (200/s)".
  std::string Summary(double seconds) const;

 private:
  void AuditVerifyLoop();
  void AbuseLoop(double rate);

  std::string kind_, dir_, base_url_;
  std::atomic<bool> stop_{false};
  std::atomic<long> done_{0}, unexpected_{0};
  std::thread thread_;
};

}  // namespace kmra::bench
