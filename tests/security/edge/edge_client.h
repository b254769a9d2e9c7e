// What an outsider uses against the key server's edge: plain TCP sockets bound to a chosen loopback
// source address, and a small blocking TLS client (OpenSSL) that sends raw bytes and reads HTTP
// responses, with or without a client certificate. Also starts `kmra server --dev` with extra
// [listen] settings and an optional open-files limit.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace kmra::edge {

// A TCP connection from `source` (e.g. "127.0.0.2") to 127.0.0.1:port, non-blocking connect;
// returns the fd (connect may still be in progress) or -1.
int OpenSilent(int port, const std::string& source);

struct HttpReply {
  int status = 0;  // 0: no complete response (closed, reset or timed out)
  std::string body;
};

class TlsClient {
 public:
  ~TlsClient();
  // Connects from `source` and completes the handshake, presenting cert/key when given. Every
  // read and write gives up after `timeout_ms`. `before_tls` is sent in clear first (a PROXY
  // header).
  bool Connect(int port, const std::string& source, const std::string& cert, const std::string& key,
               int timeout_ms, const std::string& before_tls = "");
  bool Send(const std::string& bytes);
  // Reads one response (Content-Length framing).
  HttpReply Read();
  void Close();

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string pending_;
};

// One request on a fresh connection.
HttpReply Request(int port, const std::string& method, const std::string& path,
                  const std::string& cert = "", const std::string& key = "",
                  const std::string& source = "127.0.0.1", int timeout_ms = 5000);

// `kmra server --dev` in its own directory; `listen_settings` are added to [listen] of its config.
class DevServer {
 public:
  DevServer(const std::string& listen_settings = "", int open_files = 0);
  ~DevServer();
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool Running() { return process_ && process_->Running(); }
  std::string dir() const { return dir_.path(); }
  std::string Cert(const std::string& who) const { return dir_.path() + "/tls/" + who + ".pem"; }
  std::string Key(const std::string& who) const { return dir_.path() + "/tls/" + who + ".key"; }
  std::string Log() const;
  // GET path with the admin certificate.
  HttpReply Admin(const std::string& path);
  // Value of one metric series line in /metrics ("name{labels}"), 0 when absent.
  double Metric(const std::string& series);

 private:
  bool Start(int open_files);
  integration::TempDir dir_;
  std::unique_ptr<integration::Process> process_;
  int port_ = 0;
};

// CPU seconds (user + system) the process has used, from /proc/PID/stat.
double CpuSeconds(pid_t pid);

}  // namespace kmra::edge
