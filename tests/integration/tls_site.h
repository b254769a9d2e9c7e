// Test keys and nginx sites: a key + self-signed certificate made with OpenSSL, nginx configured by
// `kmra nginx-config --standalone` and started for real, and what a TLS client sees of it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace kmra::integration {

// A private key with a self-signed certificate for localhost, and the byte strings that must never show
// up in nginx's memory when the key lives elsewhere: its PKCS#8 DER, and its private exponent (RSA) or
// scalar (EC), both big-endian and little-endian (OpenSSL's BIGNUM layout on x86-64).
struct TestKey {
  std::string kind;       // "rsa" or "ec"
  std::string key_file;   // PKCS#8 PEM
  std::string cert_file;  // PEM
  std::string cert_pem;
  std::vector<std::vector<uint8_t>> secrets;
};

// Makes an RSA-2048 or P-256 key in `dir`. Fails the calling test (gtest ASSERT) on error.
TestKey MakeTestKey(const std::string& dir, const std::string& kind);

// The kmra binary under test (KMRA_BIN, set by ctest).
std::string KmraBin();

// nginx started from a prefix that `kmra nginx-config --standalone` wrote.
class NginxSite {
 public:
  // Renders the config with `kmra nginx-config --standalone <dir> --listen 127.0.0.1:<port>` plus
  // `config_args`, then starts nginx with `env` (OPENSSL_CONF is added). Check started()/error().
  NginxSite(const std::string& dir, const std::vector<std::string>& config_args, Env env);
  ~NginxSite();

  bool started() const { return started_; }
  // Why it did not start: nginx's own words (stderr + error.log).
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  pid_t master_pid() const { return nginx_ ? nginx_->pid() : -1; }
  // Master and worker pids.
  std::vector<pid_t> Pids() const;

  // GET / over TLS with curl, trusting `ca_file`; returns curl's exit code and body.
  RunResult Fetch(const std::string& ca_file) const;
  // The leaf certificate the server presents (PEM), via openssl s_client.
  std::string PresentedCertificate() const;

 private:
  std::string dir_;
  int port_ = 0;
  bool started_ = false;
  std::string error_;
  std::unique_ptr<Process> nginx_;
};

// The first PEM certificate block of `pem`.
std::string FirstPemCert(const std::string& pem);

}  // namespace kmra::integration
