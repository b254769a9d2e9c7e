// `kmra server --dev --dir DIR --listen 127.0.0.1:0` for the key server's end-to-end and security
// tests, and the report data a client's enclave quotes (ARCHITECTURE.md step 3).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace kmra::integration {

class DevServer {
 public:
  // Starts the server on `dir` (made by `kmra pki init`) and waits for DIR/server.port. started()
  // says whether it came up; error() has its log otherwise.
  explicit DevServer(std::string dir);
  bool started() const { return !url_.empty(); }
  const std::string& error() const { return error_; }
  // https://127.0.0.1:PORT
  const std::string& url() const { return url_; }
  // Stops the process (SIGTERM) and forgets DIR/server.port, so the server can be started again.
  void Stop();

 private:
  std::string dir_;
  std::unique_ptr<Process> process_;
  std::string url_;
  std::string error_;
};

// SHA-256(exponent || modulus || nonce) || 32 zero bytes: the report data that binds a release
// request's public key and nonce to the quote.
std::array<std::uint8_t, 64> ReleaseReportData(const std::vector<std::uint8_t>& exponent,
                                               const std::vector<std::uint8_t>& modulus,
                                               const std::vector<std::uint8_t>& nonce);

}  // namespace kmra::integration
